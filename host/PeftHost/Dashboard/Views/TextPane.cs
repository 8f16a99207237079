using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// Read-only text that scrolls: a recipe's source, a streamed answer. Optionally word-wrapped;
/// optionally following the end as text arrives. Focusable: arrows, PageUp/PageDown, Home/End and
/// the mouse wheel scroll it.
/// </summary>
public sealed class TextPane : View
{
    private string _text = "";
    private IReadOnlyList<string> _lines = [""];
    private int _wrappedFor = -1;
    private int _top;

    /// <summary>A focusable pane.</summary>
    public TextPane() => CanFocus = true;

    /// <summary>Wrap long lines at word boundaries (else they are cut).</summary>
    public bool WordWrap { get; init; }

    /// <summary>Keep the last line in view as text grows (until the user scrolls up).</summary>
    public bool FollowEnd { get; init; }

    /// <summary>The text shown.</summary>
    public new string Text
    {
        get => _text;
        set
        {
            value = value.Replace("\r", "").Replace("\t", "  ");
            if (value == _text) return;
            bool wasAtEnd = _top >= MaxTop();
            bool replaced = !value.StartsWith(_text, StringComparison.Ordinal);
            _text = value;
            _wrappedFor = -1;
            if (replaced) _top = 0;
            if (FollowEnd && (wasAtEnd || replaced)) _top = MaxTop();
            SetNeedsDraw();
        }
    }

    /// <inheritdoc />
    protected override bool OnDrawingContent(DrawContext? context)
    {
        var viewport = Viewport;
        SetAttributeForRole(HasFocus ? VisualRole.Focus : VisualRole.Normal);
        SetAttributeForRole(VisualRole.Normal);
        var lines = Lines(viewport.Width);
        _top = Math.Clamp(_top, 0, MaxTop());
        for (int row = 0; row < viewport.Height; row++)
        {
            int index = _top + row;
            AddStr(0, row, DisplayFormat.Fit(index < lines.Count ? lines[index] : "", viewport.Width));
        }
        return true;
    }

    /// <inheritdoc />
    protected override bool OnKeyDown(Key key)
    {
        int page = Math.Max(1, Viewport.Height - 1);
        int? top = key.KeyCode switch
        {
            Terminal.Gui.Drivers.KeyCode.CursorUp => _top - 1,
            Terminal.Gui.Drivers.KeyCode.CursorDown => _top + 1,
            Terminal.Gui.Drivers.KeyCode.PageUp => _top - page,
            Terminal.Gui.Drivers.KeyCode.PageDown => _top + page,
            Terminal.Gui.Drivers.KeyCode.Home => 0,
            Terminal.Gui.Drivers.KeyCode.End => MaxTop(),
            _ => null,
        };
        if (top is null) return false;
        ScrollTo(top.Value);
        return true;
    }

    /// <inheritdoc />
    protected override bool OnMouseEvent(Mouse mouse)
    {
        if (mouse.Flags.HasFlag(MouseFlags.WheeledDown)) { ScrollTo(_top + 3); return true; }
        if (mouse.Flags.HasFlag(MouseFlags.WheeledUp)) { ScrollTo(_top - 3); return true; }
        return false;
    }

    private void ScrollTo(int top)
    {
        _top = Math.Clamp(top, 0, MaxTop());
        SetNeedsDraw();
    }

    private int MaxTop() => Math.Max(0, Lines(Viewport.Width).Count - Viewport.Height);

    private IReadOnlyList<string> Lines(int width)
    {
        width = Math.Max(1, width);
        if (_wrappedFor == width) return _lines;
        _wrappedFor = width;
        var raw = _text.Split('\n');
        _lines = WordWrap ? raw.SelectMany(line => DisplayFormat.Wrap(line, width)).ToList() : raw;
        return _lines;
    }
}
