namespace PeftHost.Core.Data;

/// <summary>Bad input data: a missing field, a malformed line. The message names the file and line.</summary>
public sealed class DataFormatException : Exception
{
    /// <summary>Creates the error for <paramref name="file"/> at <paramref name="line"/> (1-based; 0 when not tied to a line).</summary>
    public DataFormatException(string file, long line, string message, Exception? inner = null)
        : base(line > 0 ? $"{file}:{line}: {message}" : $"{file}: {message}", inner)
    {
        File = file;
        Line = line;
        Reason = message;
    }

    /// <summary>The file at fault.</summary>
    public string File { get; }

    /// <summary>The 1-based line (JSONL, CSV, text) or row (Parquet); 0 when the whole file is at fault.</summary>
    public long Line { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }
}
