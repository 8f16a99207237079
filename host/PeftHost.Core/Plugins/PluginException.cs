namespace PeftHost.Core.Plugins;

/// <summary>
/// A plugin could not do what was asked: it is unknown, failed to load, or its code threw.
/// The message names the plugin and, where known, the method.
/// </summary>
public sealed class PluginException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public PluginException(string? pluginName, string message, Exception? inner = null) : base(message, inner)
    {
        PluginName = pluginName;
    }

    /// <summary>The plugin at fault; null when the problem is a name no plugin provides.</summary>
    public string? PluginName { get; }
}
