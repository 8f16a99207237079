using Terminal.Gui.Drawing;
using Terminal.Gui.ViewBase;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>Read-only lines of text, clipped to the view (no wrapping, no scrolling): status blocks, details, tables, charts.</summary>
public class LinesView : View
{
    private IReadOnlyList<string> _lines = [];

    /// <summary>The lines shown, top first.</summary>
    public IReadOnlyList<string> Lines
    {
        get => _lines;
        set
        {
            if (_lines.SequenceEqual(value)) return;
            _lines = value.ToList();
            SetNeedsDraw();
        }
    }

    /// <summary>When true and there are more lines than rows, the last lines show (a tail).</summary>
    public bool ShowTail { get; set; }

    /// <summary>The role the text is drawn with (Normal by default).</summary>
    public VisualRole Role { get; set; } = VisualRole.Normal;

    /// <inheritdoc />
    protected override bool OnDrawingContent(DrawContext? context)
    {
        var viewport = Viewport;
        SetAttributeForRole(Role);
        int first = ShowTail ? Math.Max(0, _lines.Count - viewport.Height) : 0;
        for (int row = 0; row < viewport.Height; row++)
        {
            int index = first + row;
            string text = index < _lines.Count ? _lines[index] : "";
            if (text.Length > viewport.Width) text = viewport.Width > 0 ? text[..viewport.Width] : "";
            AddStr(0, row, text.PadRight(viewport.Width));
        }
        return true;
    }
}
