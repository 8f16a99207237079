using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Training.Metrics;

/// <summary>
/// The event plumbing a training log shares: it subscribes to one run's events on the bus and hands them to the
/// log's writers one at a time (the bus publishes from the trainer's and other threads), and on dispose stops
/// listening, then closes the log's file under the same lock, so that no write races the close.
/// </summary>
internal sealed class RunEventWriter(EventBus events, string runId, IDisposable file) : IDisposable
{
    private readonly List<IDisposable> _subscriptions = [];
    private readonly object _gate = new();

    /// <summary>Calls <paramref name="write"/> for each <typeparamref name="T"/> of the run.</summary>
    public RunEventWriter On<T>(Action<T> write) where T : ITrainingRunEvent
    {
        _subscriptions.Add(events.Subscribe<T>(e =>
        {
            if (e.RunId != runId) return;
            lock (_gate) write(e);
        }));
        return this;
    }

    public void Dispose()
    {
        foreach (var s in _subscriptions) s.Dispose();
        lock (_gate) file.Dispose();
    }
}
