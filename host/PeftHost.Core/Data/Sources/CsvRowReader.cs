using System.Text;

namespace PeftHost.Core.Data;

/// <summary>
/// Splits RFC 4180 CSV into rows of fields: fields may be quoted, a doubled quote inside quotes
/// is a literal quote, and quoted fields may hold delimiters and line breaks. Each row carries
/// the line it starts on.
/// </summary>
internal sealed class CsvRowReader(TextReader reader, string file, char delimiter)
{
    private long _line = 1;

    /// <summary>The next row and its first line, or null at the end of the input.</summary>
    public (List<string> Fields, long Line)? Next()
    {
        int c = reader.Peek();
        while (c == '\r' || c == '\n')
        {
            ConsumeLineBreak();
            c = reader.Peek();
        }
        if (c < 0) return null;

        long start = _line;
        var fields = new List<string>();
        var field = new StringBuilder();
        while (true)
        {
            c = reader.Peek();
            if (c == '"' && field.Length == 0)
            {
                reader.Read();
                ReadQuoted(field, start);
                c = reader.Peek();
                if (c >= 0 && c != delimiter && c != '\r' && c != '\n')
                    throw new DataFormatException(file, _line, $"unexpected character '{(char)c}' after a closing quote");
            }
            if (c < 0 || c == '\r' || c == '\n')
            {
                fields.Add(field.ToString());
                if (c >= 0) ConsumeLineBreak();
                return (fields, start);
            }
            reader.Read();
            if (c == delimiter)
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else field.Append((char)c);
        }
    }

    private void ReadQuoted(StringBuilder field, long start)
    {
        while (true)
        {
            int c = reader.Read();
            if (c < 0) throw new DataFormatException(file, start, "unterminated quoted field");
            if (c == '"')
            {
                if (reader.Peek() == '"') { reader.Read(); field.Append('"'); continue; }
                return;
            }
            if (c == '\n') _line++;
            else if (c == '\r' && reader.Peek() != '\n') _line++;
            field.Append((char)c);
        }
    }

    private void ConsumeLineBreak()
    {
        if (reader.Read() == '\r' && reader.Peek() == '\n') reader.Read();
        _line++;
    }
}
