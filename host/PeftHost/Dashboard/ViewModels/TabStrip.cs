namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>One piece of the tab strip: a tab (with its panel) or the hint/job text (no panel).</summary>
/// <param name="X">Its first column.</param>
/// <param name="Text">What is drawn.</param>
/// <param name="Panel">The panel a click on it shows, or null.</param>
public sealed record TabSegment(int X, string Text, DashboardPanel? Panel);

/// <summary>
/// Lays out the one-row tab strip: <c> 1 Plugins  2 Recipes …</c> and the running job on the right.
/// When the window is too narrow, tabs are dropped from the end (never the current one) and the
/// strip says what it hides (<c>+6 Log</c>); a running job that does not fit by name is still
/// marked (<c>● tiny-tr…</c>, or <c>●</c>), so nothing vanishes silently.
/// </summary>
public static class TabStrip
{
    /// <summary>The segments for a strip <paramref name="width"/> columns wide.</summary>
    public static IReadOnlyList<TabSegment> Layout(int width, DashboardPanel current, string job)
    {
        var tabs = DashboardViewModel.TabTitles.Select((title, i) => (Title: title, Panel: (DashboardPanel)i)).ToList();
        var shown = tabs.ToList();
        var hidden = new List<(string Title, DashboardPanel Panel)>();
        // Tabs drop from the end, never the current one, until the tabs, the hint and the job mark fit.
        while (TabsWidth(shown) + HintWidth(ShortHint(hidden)) + (job.Length == 0 ? 0 : 2) > width && shown.Count > 1)
        {
            int drop = shown.FindLastIndex(t => t.Panel != current);
            hidden.Insert(0, shown[drop]);
            shown.RemoveAt(drop);
        }
        var segments = new List<TabSegment>();
        int x = 0;
        foreach (var (title, panel) in shown)
        {
            segments.Add(new TabSegment(x, $" {title} ", panel));
            x += title.Length + 3;
        }
        if (hidden.Count > 0)
        {
            // The hidden tabs by name where they fit (+5 Playground 6 Log), else by number (+5 6).
            string full = "+" + string.Join(" ", hidden.Select(t => t.Title));
            string hint = x + HintWidth(full) + (job.Length == 0 ? 0 : 2) <= width ? full : ShortHint(hidden);
            segments.Add(new TabSegment(x, hint, null));
            x += HintWidth(hint);
        }
        string marker = Marker(job, width - x - 1);
        if (marker.Length > 0) segments.Add(new TabSegment(width - marker.Length, marker, null));
        return segments;
    }

    /// <summary>The strip as plain text (for tests and logs).</summary>
    public static string Text(int width, DashboardPanel current, string job)
    {
        var row = new char[width];
        Array.Fill(row, ' ');
        foreach (var s in Layout(width, current, job))
            for (int i = 0; i < s.Text.Length && s.X + i < width; i++) row[s.X + i] = s.Text[i];
        return new string(row).TrimEnd();
    }

    /// <summary>The running job's mark in <paramref name="room"/> columns: its name, cut with … when long, or just ●.</summary>
    private static string Marker(string job, int room)
    {
        if (job.Length == 0) return "";
        if (job.Length + 2 <= room) return "● " + job;
        return room >= 6 ? "● " + DisplayFormat.Fit(job, room - 2) : room >= 1 ? "●" : "";
    }

    private static int TabsWidth(List<(string Title, DashboardPanel Panel)> tabs) => tabs.Sum(t => t.Title.Length + 3);

    private static string ShortHint(List<(string Title, DashboardPanel Panel)> hidden) =>
        hidden.Count == 0 ? "" : "+" + string.Join(" ", hidden.Select(t => (int)t.Panel + 1));

    private static int HintWidth(string hint) => hint.Length == 0 ? 0 : hint.Length + 1;
}
