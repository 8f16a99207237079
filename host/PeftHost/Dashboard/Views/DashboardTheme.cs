using Terminal.Gui.Configuration;
using Terminal.Gui.Drawing;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// Colours, or none. With <c>NO_COLOR</c> set (to anything non-empty, see no-color.org) every
/// scheme uses the terminal's own colours and marks focus and selection with reverse video and
/// hot keys with underline, so nothing depends on colour.
/// </summary>
public static class DashboardTheme
{
    /// <summary>True when <c>NO_COLOR</c> asks for no colour.</summary>
    public static bool NoColor { get; } = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));

    /// <summary>Applies the theme; call after the application is initialised, before building views.</summary>
    public static void Apply()
    {
        if (!NoColor) return;
        var plain = new Attribute(Color.None, Color.None);
        var reverse = new Attribute(Color.None, Color.None, TextStyle.Reverse);
        var scheme = new Scheme(plain)
        {
            Normal = plain,
            Focus = reverse,
            Active = reverse,
            Highlight = reverse,
            HotNormal = new Attribute(Color.None, Color.None, TextStyle.Underline),
            HotFocus = new Attribute(Color.None, Color.None, TextStyle.Reverse | TextStyle.Underline),
            HotActive = new Attribute(Color.None, Color.None, TextStyle.Reverse | TextStyle.Underline),
            Editable = new Attribute(Color.None, Color.None, TextStyle.Underline),
            ReadOnly = plain,
            Disabled = new Attribute(Color.None, Color.None, TextStyle.Faint),
        };
        foreach (string name in SchemeManager.GetSchemeNames()) SchemeManager.AddScheme(name, scheme);
    }
}
