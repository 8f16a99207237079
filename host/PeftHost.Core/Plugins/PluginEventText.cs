using System.Globalization;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Plugins;

/// <summary>
/// The one line a plugin event leaves wherever it is shown: the console of <c>peft run</c>, the
/// dashboard's Log panel and status line. One wording everywhere, so a refused reload reads the same
/// in the terminal and in the dashboard: <c>reload of X 0.4.0 refused: &lt;reason&gt;; 0.3.0 still serving</c>.
/// </summary>
public static class PluginEventText
{
    /// <summary>The level and message for a plugin event, or null when <paramref name="e"/> is not one.</summary>
    public static (LogLevel Level, string Message)? From(IHostEvent e) => e switch
    {
        PluginLoadedEvent p => (LogLevel.Info, $"plugin {p.Plugin.Name} {Version(p.Plugin.Version)} loaded"),
        PluginReloadedEvent p => (LogLevel.Info, string.Create(CultureInfo.InvariantCulture,
            $"plugin {p.Plugin.Name} reloaded: {Version(p.PreviousVersion)} → {Version(p.Plugin.Version)} (generation {p.Plugin.Generation}), " +
            $"{p.ChangeToReinjectMs:0} ms from the file change to re-injection, {p.ApplyMs:0} ms of it at the step boundary")),
        PluginFailedEvent { StillServing: true } p => (LogLevel.Warning,
            $"reload of {p.Plugin.Name} {Version(p.AttemptedVersion)} refused: {p.Reason}; {Version(p.Plugin.Version)} still serving"),
        PluginFailedEvent p => (LogLevel.Error, $"plugin {p.Plugin.Name} {Version(p.Plugin.Version)} failed: {p.Reason}"),
        _ => null,
    };

    /// <summary>A plugin version as shown; a build whose version could not be read shows as such.</summary>
    private static string Version(string? version) => version ?? "(version unreadable)";
}
