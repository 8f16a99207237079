namespace PeftHost.Core.Data;

/// <summary>Where records come from: a file in one of the supported formats, possibly filtered.</summary>
public interface IRecordSource
{
    /// <summary>A name for messages (usually the file path).</summary>
    string Name { get; }

    /// <summary>
    /// Identifies the content and reading options: it changes when the file or the options
    /// change, so tokenized results can be cached under it.
    /// </summary>
    string Fingerprint { get; }

    /// <summary>Reads the records in file order.</summary>
    IEnumerable<DataRecord> Read();
}
