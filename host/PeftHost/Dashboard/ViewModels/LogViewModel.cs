using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>One line of the Log panel.</summary>
/// <param name="Time">When it was logged.</param>
/// <param name="Level">Its severity.</param>
/// <param name="Source">Who logged it.</param>
/// <param name="Message">One line of text (multi-line messages become several entries).</param>
public sealed record LogEntry(DateTimeOffset Time, LogLevel Level, string Source, string Message)
{
    /// <summary>Columns before the message in <see cref="Format"/> (time, level, source).</summary>
    public const int PrefixWidth = 24;

    /// <summary><c>12:01:02 WARN  plugins  message</c>.</summary>
    public string Format() => $"{Time:HH:mm:ss} {LevelTag(Level)} {Source,-8} {Message}";

    /// <summary>
    /// <see cref="Format"/> wrapped to <paramref name="width"/> columns, continuation rows indented
    /// under the message (by two columns only where the window is too narrow for that).
    /// </summary>
    public IReadOnlyList<string> Wrap(int width)
    {
        string line = Format();
        if (line.Length <= width) return [line];
        int indent = width >= PrefixWidth + 20 ? PrefixWidth : 2;
        var rows = DisplayFormat.Wrap(line, width).Take(1).ToList();
        string rest = line[Math.Min(line.Length, rows[0].Length)..].TrimStart();
        rows.AddRange(DisplayFormat.Wrap(rest, width - indent).Select(r => new string(' ', indent) + r));
        return rows;
    }

    /// <summary>The whole entry for the detail view: its time, level and source, then the message.</summary>
    public string Detail() => $"{Time:yyyy-MM-dd HH:mm:ss} · {LevelTag(Level).Trim()} · {Source}\n\n{Message}";

    /// <summary>A five-letter tag for a level.</summary>
    public static string LevelTag(LogLevel level) => level switch
    {
        LogLevel.Debug => "DEBUG",
        LogLevel.Info => "INFO ",
        LogLevel.Warning => "WARN ",
        _ => "ERROR",
    };
}

/// <summary>
/// The Log panel: every log line and a line for each notable event (see <see cref="EventLogText"/>),
/// the newest <see cref="Capacity"/> kept, filtered by minimum level, source and a text search.
/// </summary>
public sealed class LogViewModel : IEventSink
{
    /// <summary>How many lines are kept.</summary>
    public const int Capacity = 5000;

    private readonly LinkedList<LogEntry> _entries = new();
    private readonly SortedSet<string> _sources = new(StringComparer.Ordinal);

    /// <summary>Lines below this level are hidden (default Info: debug lines are kept but not shown).</summary>
    public LogLevel MinimumLevel { get; set; } = LogLevel.Info;

    /// <summary>Only lines from this source are shown; null shows all.</summary>
    public string? Source { get; set; }

    /// <summary>Only lines containing this text (case-insensitive) are shown; empty shows all.</summary>
    public string Search { get; set; } = "";

    /// <summary>The sources seen so far, sorted.</summary>
    public IReadOnlyCollection<string> Sources => _sources;

    /// <summary>Every kept entry, oldest first.</summary>
    public IReadOnlyCollection<LogEntry> Entries => _entries;

    /// <summary>The entries that pass the filters, oldest first.</summary>
    public IReadOnlyList<LogEntry> Visible => _entries.Where(Passes).ToList();

    /// <summary>The visible entries as text lines.</summary>
    public IReadOnlyList<string> VisibleLines => Visible.Select(e => e.Format()).ToList();

    /// <summary>The visible entries wrapped to <paramref name="width"/> columns: each row with the entry it belongs to.</summary>
    public IReadOnlyList<(string Text, LogEntry Entry)> WrappedRows(int width) =>
        Visible.SelectMany(e => e.Wrap(Math.Max(1, width)).Select(row => (row, e))).ToList();

    /// <summary>The filter as one line: <c>level ≥ INFO · source all · search "lora"</c>.</summary>
    public string FilterText =>
        $"level ≥ {LogEntry.LevelTag(MinimumLevel).Trim()} · source {Source ?? "all"}" + (Search.Length == 0 ? "" : $" · search \"{Search}\"");

    /// <inheritdoc />
    public bool Apply(IHostEvent e)
    {
        if (e is LogEvent log)
        {
            Add(log.Time, log.Level, log.Source, log.Message);
            return true;
        }
        if (EventLogText.From(e) is { } line)
        {
            Add(e.Time, line.Level, e.Source, line.Message);
            return true;
        }
        return false;
    }

    /// <summary>Shows the next level up (Debug → Info → Warning → Error → Debug).</summary>
    public void CycleLevel() => MinimumLevel = MinimumLevel == LogLevel.Error ? LogLevel.Debug : MinimumLevel + 1;

    /// <summary>Shows the next source in <see cref="Sources"/> (after the last: all).</summary>
    public void CycleSource()
    {
        var list = _sources.ToList();
        if (list.Count == 0) { Source = null; return; }
        int index = Source is null ? -1 : list.IndexOf(Source);
        Source = index + 1 >= list.Count ? null : list[index + 1];
    }

    private void Add(DateTimeOffset time, LogLevel level, string source, string message)
    {
        _sources.Add(source);
        foreach (var line in message.Replace("\r", "").Split('\n'))
        {
            _entries.AddLast(new LogEntry(time, level, source, line));
            if (_entries.Count > Capacity) _entries.RemoveFirst();
        }
    }

    private bool Passes(LogEntry e) =>
        e.Level >= MinimumLevel
        && (Source is null || e.Source == Source)
        && (Search.Length == 0 || e.Message.Contains(Search, StringComparison.OrdinalIgnoreCase) || e.Source.Contains(Search, StringComparison.OrdinalIgnoreCase));
}
