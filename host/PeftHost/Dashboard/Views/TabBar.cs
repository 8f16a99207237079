using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The one-row tab strip (laid out by <see cref="TabStrip"/>): <c> 1 Plugins  2 Recipes  3 Run …</c>
/// with the current panel in reverse video, and the running job on the right. A click on a title
/// selects that panel.
/// </summary>
public sealed class TabBar : View
{
    private DashboardPanel _current;
    private string _job = "";

    /// <summary>A tab strip one row high, as wide as its container.</summary>
    public TabBar()
    {
        Height = 1;
        Width = Dim.Fill();
        CanFocus = false;
    }

    /// <summary>Raised when a title is clicked.</summary>
    public event Action<DashboardPanel>? PanelClicked;

    /// <summary>The highlighted panel.</summary>
    public DashboardPanel Current
    {
        get => _current;
        set { _current = value; SetNeedsDraw(); }
    }

    /// <summary>The running job shown at the right (empty when idle).</summary>
    public string Job
    {
        get => _job;
        set { if (_job != value) { _job = value; SetNeedsDraw(); } }
    }

    /// <inheritdoc />
    protected override bool OnDrawingContent(DrawContext? context)
    {
        var viewport = Viewport;
        SetAttributeForRole(VisualRole.Normal);
        AddStr(0, 0, new string(' ', viewport.Width));
        foreach (var segment in TabStrip.Layout(viewport.Width, _current, _job))
        {
            SetAttributeForRole(segment.Panel == _current ? VisualRole.Focus : VisualRole.Normal);
            AddStr(segment.X, 0, segment.Text);
        }
        SetAttributeForRole(VisualRole.Normal);
        return true;
    }

    /// <inheritdoc />
    protected override bool OnMouseEvent(Mouse mouse)
    {
        if (!mouse.Flags.HasFlag(MouseFlags.LeftButtonClicked) || mouse.Position is not { } position) return false;
        var hit = TabStrip.Layout(Viewport.Width, _current, _job)
            .FirstOrDefault(s => s.Panel is not null && position.X >= s.X && position.X < s.X + s.Text.Length);
        if (hit?.Panel is not { } panel) return false;
        PanelClicked?.Invoke(panel);
        return true;
    }
}
