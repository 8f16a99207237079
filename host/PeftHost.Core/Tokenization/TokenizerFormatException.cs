namespace PeftHost.Core.Tokenization;

/// <summary>
/// A tokenizer file (or folder) that cannot be used. The message starts with the path at fault and
/// says what is wrong with it.
/// </summary>
public sealed class TokenizerFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    /// <param name="path">The file or folder at fault.</param>
    /// <param name="message">What is wrong, without the path.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public TokenizerFormatException(string path, string message, Exception? inner = null)
        : base($"{path}: {message}", inner)
    {
        FilePath = path;
    }

    /// <summary>The file or folder at fault.</summary>
    public string FilePath { get; }
}
