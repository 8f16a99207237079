using System.Text;

namespace PeftHost.Core.Data;

/// <summary>
/// Splits RFC 4180 CSV into rows of fields: fields may be quoted, a doubled quote inside quotes
/// is a literal quote, and quoted fields may hold delimiters and line breaks. Each row carries
/// the line it starts on.
/// </summary>
internal sealed class CsvRowReader(TextReader reader, string file, char delimiter, DataLimits limits)
{
    private long _line = 1;
    private long _rowChars;

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
        _rowChars = 0;
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
            else Append(field, (char)c, start);
        }
    }

    /// <summary>Adds a character to the row's field, refusing a row longer than the record limit.</summary>
    private void Append(StringBuilder field, char c, long start)
    {
        if (++_rowChars > limits.MaxRecordChars) throw limits.RecordTooLong(file, start);
        field.Append(c);
    }

    private void ReadQuoted(StringBuilder field, long start)
    {
        while (true)
        {
            int c = reader.Read();
            if (c < 0) throw new DataFormatException(file, start, "unterminated quoted field");
            if (c == '"')
            {
                if (reader.Peek() == '"') { reader.Read(); Append(field, '"', start); continue; }
                return;
            }
            if (c == '\n') _line++;
            else if (c == '\r' && reader.Peek() != '\n') _line++;
            Append(field, (char)c, start);
        }
    }

    private void ConsumeLineBreak()
    {
        if (reader.Read() == '\r' && reader.Peek() == '\n') reader.Read();
        _line++;
    }
}
