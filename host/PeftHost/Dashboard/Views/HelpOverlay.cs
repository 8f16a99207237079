using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>The F1 help: every key and what it does, drawn over the current panel; F1 or Esc closes it.</summary>
public sealed class HelpOverlay : FrameView
{
    /// <summary>Builds the overlay (hidden).</summary>
    public HelpOverlay()
    {
        Title = "Help — F1 or Esc closes";
        X = Pos.Center();
        Y = Pos.Center();
        Width = Dim.Percent(90);
        Height = DashboardKeys.Help.Count + 5;
        Visible = false;
        int keyWidth = DashboardKeys.Help.Max(h => h.Key.Length) + 2;
        var lines = DashboardKeys.Help.Select(h => h.Key.PadRight(keyWidth) + h.Action).ToList();
        lines.Add("");
        lines.Add("Everything here comes from the event bus: peft run shows it headless.");
        Add(new LinesView { X = 1, Y = 0, Width = Dim.Fill(1), Height = Dim.Fill(), Lines = lines });
    }
}
