using System.Text;

namespace PeftHost.Core.Data;

/// <summary>How a plain text file is cut into records.</summary>
public enum TextSplit
{
    /// <summary>The whole file is one record.</summary>
    Document,
    /// <summary>Paragraphs separated by blank lines.</summary>
    Paragraphs,
    /// <summary>Every non-blank line.</summary>
    Lines,
}

/// <summary>A UTF-8 text file; each record has one field, <c>text</c>, of at most the record limit (<see cref="DataLimits"/>).</summary>
public sealed class TextFileSource(string path, TextSplit split = TextSplit.Document, string fieldName = "text", DataLimits? limits = null) : IRecordSource
{
    /// <inheritdoc />
    public string Name => path;

    /// <inheritdoc />
    public string Fingerprint => $"text|{FileFingerprint.Of(path)}|{split}|{fieldName}";

    /// <inheritdoc />
    public IEnumerable<DataRecord> Read()
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        var bounds = limits ?? DataLimits.Default;
        using var reader = new StreamReader(path, Encoding.UTF8);
        var lines = new LineReader(reader, path, bounds);
        if (split == TextSplit.Document)
        {
            yield return Record(lines.ReadToEnd(), 1);
            yield break;
        }
        var paragraph = new StringBuilder();
        long paragraphStart = 0;
        string? line;
        while ((line = lines.ReadLine()) is not null)
        {
            long lineNumber = lines.LineNumber;
            bool blank = string.IsNullOrWhiteSpace(line);
            if (split == TextSplit.Lines)
            {
                if (!blank) yield return Record(line, lineNumber);
                continue;
            }
            if (blank)
            {
                if (paragraph.Length > 0) yield return Record(paragraph.ToString(), paragraphStart);
                paragraph.Clear();
                continue;
            }
            if (paragraph.Length == 0) paragraphStart = lineNumber;
            else paragraph.Append('\n');
            if (paragraph.Length + (long)line.Length > bounds.MaxRecordChars) throw bounds.RecordTooLong(path, paragraphStart);
            paragraph.Append(line);
        }
        if (paragraph.Length > 0) yield return Record(paragraph.ToString(), paragraphStart);
    }

    private DataRecord Record(string text, long line) => new(new Dictionary<string, string?> { [fieldName] = text }, path, line);
}
