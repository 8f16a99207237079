using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The one-row tab strip: <c> 1 Plugins  2 Recipes  3 Run …</c> with the current panel in reverse
/// video, and the running job on the right. A click on a title selects that panel.
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
        int x = 0;
        foreach (var (title, panel) in Titles())
        {
            SetAttributeForRole(panel == _current ? VisualRole.Focus : VisualRole.Normal);
            AddStr(x, 0, $" {title} ");
            x += title.Length + 2;
            SetAttributeForRole(VisualRole.Normal);
            AddStr(x, 0, " ");
            x++;
        }
        if (_job.Length > 0 && viewport.Width - x > 4)
        {
            string text = DisplayFormat.Fit("● " + _job, viewport.Width - x - 1).TrimEnd();
            AddStr(viewport.Width - text.Length, 0, text);
        }
        return true;
    }

    /// <inheritdoc />
    protected override bool OnMouseEvent(Mouse mouse)
    {
        if (!mouse.Flags.HasFlag(MouseFlags.LeftButtonClicked) || mouse.Position is not { } position) return false;
        int x = 0;
        foreach (var (title, panel) in Titles())
        {
            int width = title.Length + 2;
            if (position.X >= x && position.X < x + width)
            {
                PanelClicked?.Invoke(panel);
                return true;
            }
            x += width + 1;
        }
        return false;
    }

    private static IEnumerable<(string Title, DashboardPanel Panel)> Titles() =>
        DashboardViewModel.TabTitles.Select((t, i) => (t, (DashboardPanel)i));
}
