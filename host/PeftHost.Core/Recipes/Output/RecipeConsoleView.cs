using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes.Output;

/// <summary>
/// Shows a recipe run on a console, results apart from everything else: the recipe's own output (<c>log</c>,
/// <c>table</c>, <c>console.log</c>) on the output writer, so <c>peft run x.js &gt; results.txt</c> captures the
/// results only; training progress, evaluation and checkpoint lines, the API's <c>[peft]</c> notices, warnings and
/// errors on the error writer. Progress is a redrawn one-line bar (step, loss, tokens/s, ETA) when the error writer
/// is a terminal, plain lines otherwise. Subscribes to the run's event bus.
/// </summary>
public sealed class RecipeConsoleView : IDisposable
{
    private readonly TextWriter _output;
    private readonly TextWriter _error;
    private readonly bool _interactive;
    private readonly List<IDisposable> _subscriptions = [];
    private readonly object _gate = new();
    private string? _bar;

    /// <summary>Starts showing <paramref name="events"/>; <paramref name="interactive"/> (the error writer is a terminal) draws a live progress bar.</summary>
    public RecipeConsoleView(EventBus events, TextWriter output, TextWriter error, bool interactive)
    {
        _output = output;
        _error = error;
        _interactive = interactive;
        _subscriptions.Add(events.Subscribe<LogEvent>(OnLog));
        _subscriptions.Add(events.Subscribe<IHostEvent>(OnEvent));
    }

    /// <summary>Shows a progress state (on the error writer): a redrawn bar on a terminal, a line otherwise.</summary>
    public void Progress(ProgressLine line)
    {
        lock (_gate)
        {
            if (_interactive)
            {
                ClearBar();
                _bar = line.Bar();
                _error.Write(_bar);
                if (line.Final) { _error.WriteLine(); _bar = null; }
            }
            else if (!line.TerminalOnly)
            {
                _error.WriteLine(line.Plain());
            }
            _error.Flush();
        }
    }

    /// <summary>Prints a line above the progress bar: a result on the output writer, anything else on the error writer.</summary>
    public void Line(string text, bool toError = false)
    {
        lock (_gate)
        {
            ClearBar();
            var writer = toError ? _error : _output;
            writer.WriteLine(text);
            writer.Flush();
            if (_bar is not null) _error.Write(_bar);
            _error.Flush();
        }
    }

    /// <summary>Stops showing events (and ends a bar that is still drawn).</summary>
    public void Dispose()
    {
        foreach (var s in _subscriptions) s.Dispose();
        lock (_gate)
        {
            if (_bar is not null) { _error.WriteLine(); _bar = null; }
        }
    }

    private void OnLog(LogEvent e)
    {
        if (e.Level == LogLevel.Debug) return;
        bool recipe = e.Source == Api.RecipeSession.EventSource;
        string text = e.Level switch
        {
            LogLevel.Warning => $"warning: {(recipe ? "" : $"[{e.Source}] ")}{e.Message}",
            LogLevel.Error => $"error: {(recipe ? "" : $"[{e.Source}] ")}{e.Message}",
            _ => recipe ? e.Message : $"[{e.Source}] {e.Message}",
        };
        // Only the recipe's own lines are results; the host's notices go with the progress.
        Line(text, toError: !recipe || e.Level >= LogLevel.Warning);
    }

    private void OnEvent(IHostEvent e)
    {
        if (ProgressLine.From(e) is { } line) Progress(line);
        else if (EventLine.From(e) is { } text) Line(text, toError: true);
        // Plugin loads, reloads and refused reloads (peft run --watch-plugins) read like the host's log lines.
        else if (e is not PluginLoadedEvent && PluginEventText.From(e) is { } plugin) OnLog(new LogEvent(plugin.Level, e.Source, plugin.Message));
    }

    private void ClearBar()
    {
        if (_bar is null) return;
        _error.Write('\r' + new string(' ', _bar.Length) + '\r');
    }
}
