namespace PeftHost.Sdk;

/// <summary>A config or option that cannot be honoured; the message names the key at fault.</summary>
public sealed class ConfigException(string message, string? key = null) : Exception(message)
{
    /// <summary>The key at fault, spelled as the user wrote it, when there is one.</summary>
    public string? Key { get; } = key;
}
