using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;

namespace PeftHost.Cli.Commands;

/// <summary>
/// Headless training progress: the dashboard's Run panel for a console. On a terminal it redraws one
/// line in place — bar, step, epoch, loss, tokens/s, ETA — and prints evaluations, checkpoints and
/// the end of a run above it; when the output is redirected (a log file, CI) it prints plain lines
/// instead, one per step event. It subscribes to the event bus, so any command that publishes
/// training events can show it:
/// <code>using var progress = ConsoleProgress.Attach(bus, Console.Out);</code>
/// </summary>
public sealed class ConsoleProgress : IDisposable
{
    private readonly TextWriter _output;
    private readonly bool _interactive;
    private readonly object _gate = new();
    private readonly List<IDisposable> _subscriptions = [];
    private int _barLength;

    private ConsoleProgress(EventBus events, TextWriter output, bool interactive)
    {
        _output = output;
        _interactive = interactive;
        _subscriptions.Add(events.Subscribe<TrainingStepEvent>(OnStep));
        _subscriptions.Add(events.Subscribe<EvaluationEvent>(e => Line(EventLogText.From(e)?.Message)));
        _subscriptions.Add(events.Subscribe<CheckpointEvent>(e => Line(EventLogText.From(e)?.Message)));
        _subscriptions.Add(events.Subscribe<TrainingFinishedEvent>(e => Line(EventLogText.From(e)?.Message)));
    }

    /// <summary>
    /// Shows training progress from <paramref name="events"/> on <paramref name="output"/> until disposed.
    /// <paramref name="interactive"/> defaults to "<paramref name="output"/> is the console and stdout is a terminal".
    /// </summary>
    public static ConsoleProgress Attach(EventBus events, TextWriter output, bool? interactive = null) =>
        new(events, output, interactive ?? (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected));

    /// <summary>True when a live bar is drawn (a terminal); false for plain lines.</summary>
    public bool IsInteractive => _interactive;

    /// <summary>Stops listening and ends a bar still on screen with a newline.</summary>
    public void Dispose()
    {
        foreach (var s in _subscriptions) s.Dispose();
        _subscriptions.Clear();
        lock (_gate)
        {
            if (_barLength > 0) _output.WriteLine();
            _barLength = 0;
            _output.Flush();
        }
    }

    private void OnStep(TrainingStepEvent e)
    {
        lock (_gate)
        {
            if (_interactive)
            {
                string bar = ProgressText.Bar(e);
                // \r and overwrite; pad over a longer previous bar.
                _output.Write('\r' + bar + new string(' ', Math.Max(0, _barLength - bar.Length)));
                _barLength = bar.Length;
            }
            else
            {
                _output.WriteLine(ProgressText.Plain(e));
            }
            _output.Flush();
        }
    }

    private void Line(string? text)
    {
        if (text is null) return;
        lock (_gate)
        {
            if (_interactive && _barLength > 0)
            {
                _output.Write('\r' + new string(' ', _barLength) + '\r');
                _barLength = 0;
            }
            _output.WriteLine(text);
            _output.Flush();
        }
    }
}
