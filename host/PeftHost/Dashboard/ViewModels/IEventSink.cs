using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>A view-model fed from the event bus: it takes the events it shows and ignores the rest.</summary>
public interface IEventSink
{
    /// <summary>Updates the state from <paramref name="e"/>; true when something the view shows changed.</summary>
    bool Apply(IHostEvent e);
}
