using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard.EndToEnd;

/// <summary>
/// What a captured dashboard screen must look like at its size, and where captures are kept:
/// with <c>PEFTHOST_SCREENSHOTS=DIR</c> set (e.g. <c>docs/screenshots</c>) each capture is written
/// there as <c>NAME.png</c>, <c>NAME.txt</c> and <c>NAME.ansi</c>; otherwise into the test's temp folder.
/// </summary>
internal static class DashboardScreens
{
    public static readonly string[] TabTitles = ["1 Plugins", "2 Recipes", "3 Run", "4 Adapters", "5 Playground", "6 Log", "7 Farm"];

    /// <summary>The tab strip, the whole panel frame with its title, the message line and the status bar, in place.</summary>
    public static void AssertLayout(AnsiScreen screen, string panelTitle)
    {
        string Context() => "\n" + screen.Text();
        int w = screen.Width, h = screen.Height;
        string tabs = screen.Row(0);
        foreach (var title in TabTitles) Assert.True(tabs.Contains(title, StringComparison.Ordinal), $"tab '{title}' missing or cut{Context()}");
        string top = screen.Row(1);
        Assert.True(top.StartsWith('╭') && top[w - 1] == '╮', $"panel frame top not full width{Context()}");
        Assert.True(top.Contains($"┤{panelTitle}├", StringComparison.Ordinal), $"panel title '{panelTitle}' missing or cut{Context()}");
        string bottom = screen.Row(h - 3);
        Assert.True(bottom.StartsWith('╰') && bottom[w - 1] == '╯', $"panel frame bottom not at row {h - 3}{Context()}");
        for (int y = 2; y < h - 3; y++)
            Assert.True(screen.Row(y)[0] == '│' && screen.Row(y)[w - 1] == '│', $"panel side broken at row {y}{Context()}");
        string status = screen.Row(h - 1);
        foreach (var item in new[] { "F1", "Help", "F5", "Run", "Stop", "F9", "Reload", "Quit" })
            Assert.True(status.Contains(item, StringComparison.Ordinal), $"status bar lacks '{item}'{Context()}");
    }

    /// <summary>Keeps a capture: PNG (rendered), plain text and the raw ANSI.</summary>
    public static void Save(string name, AnsiScreen screen, string raw, string fallbackFolder)
    {
        string folder = Environment.GetEnvironmentVariable("PEFTHOST_SCREENSHOTS") is { Length: > 0 } configured
            ? Path.GetFullPath(configured, TestPaths.RepoRoot)
            : fallbackFolder;
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, name + ".txt"), string.Join('\n', screen.Text().Split('\n').Select(l => l.TrimEnd())));
        File.WriteAllText(Path.Combine(folder, name + ".ansi"), raw);
        ScreenshotRenderer.Render(screen, Path.Combine(folder, name + ".png"));
    }
}
