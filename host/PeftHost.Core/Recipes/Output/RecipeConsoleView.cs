using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes.Output;

/// <summary>
/// Shows a recipe run on a console: the recipe's log lines and tables as they come, host warnings
/// on the error writer, and training progress — a redrawn one-line bar (step, loss, tokens/s, ETA)
/// when the output is a terminal, plain log lines otherwise. Subscribes to the run's event bus.
/// </summary>
public sealed class RecipeConsoleView : IDisposable
{
    private readonly TextWriter _output;
    private readonly TextWriter _error;
    private readonly bool _interactive;
    private readonly List<IDisposable> _subscriptions = [];
    private readonly object _gate = new();
    private string? _bar;

    /// <summary>Starts showing <paramref name="events"/>; <paramref name="interactive"/> draws a live progress bar.</summary>
    public RecipeConsoleView(EventBus events, TextWriter output, TextWriter error, bool interactive)
    {
        _output = output;
        _error = error;
        _interactive = interactive;
        _subscriptions.Add(events.Subscribe<LogEvent>(OnLog));
        _subscriptions.Add(events.Subscribe<IHostEvent>(OnEvent));
    }

    /// <summary>Shows a progress state: a redrawn bar on a terminal, a line otherwise.</summary>
    public void Progress(ProgressLine line)
    {
        lock (_gate)
        {
            if (_interactive)
            {
                ClearBar();
                _bar = line.Bar();
                _output.Write(_bar);
                if (line.Final) { _output.WriteLine(); _bar = null; }
            }
            else if (!line.TerminalOnly)
            {
                _output.WriteLine(line.Plain());
            }
            _output.Flush();
        }
    }

    /// <summary>Prints a line above the progress bar.</summary>
    public void Line(string text, bool toError = false)
    {
        lock (_gate)
        {
            ClearBar();
            (toError ? _error : _output).WriteLine(text);
            if (_bar is not null) _output.Write(_bar);
            _output.Flush();
        }
    }

    /// <summary>Stops showing events (and ends a bar that is still drawn).</summary>
    public void Dispose()
    {
        foreach (var s in _subscriptions) s.Dispose();
        lock (_gate)
        {
            if (_bar is not null) { _output.WriteLine(); _bar = null; }
        }
    }

    private void OnLog(LogEvent e)
    {
        if (e.Level == LogLevel.Debug) return;
        bool recipe = e.Source == "recipe";
        string text = e.Level switch
        {
            LogLevel.Warning => $"warning: {(recipe ? "" : $"[{e.Source}] ")}{e.Message}",
            LogLevel.Error => $"error: {(recipe ? "" : $"[{e.Source}] ")}{e.Message}",
            _ => recipe ? e.Message : $"[{e.Source}] {e.Message}",
        };
        Line(text, toError: e.Level >= LogLevel.Warning);
    }

    private void OnEvent(IHostEvent e)
    {
        if (ProgressLine.From(e) is { } line) Progress(line);
        else if (EventLine.From(e) is { } text) Line(text);
        // Plugin loads, reloads and refused reloads (peft run --watch-plugins) read like the host's log lines.
        else if (e is not PluginLoadedEvent && PluginEventText.From(e) is { } plugin) OnLog(new LogEvent(plugin.Level, e.Source, plugin.Message));
    }

    private void ClearBar()
    {
        if (_bar is null) return;
        _output.Write('\r' + new string(' ', _bar.Length) + '\r');
    }
}
