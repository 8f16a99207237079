namespace PeftHost.Core.Models;

/// <summary>A model, config or checkpoint file that cannot be used; the message starts with the file.</summary>
public sealed class ModelFormatException(string path, string message) : Exception($"{path}: {message}")
{
    /// <summary>The file at fault.</summary>
    public string FilePath { get; } = path;
}
