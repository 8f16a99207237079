using System.Collections.Concurrent;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>
/// Carries events from the bus (published on any thread: the job thread, file watchers) to the UI
/// thread: every event is queued, and the UI drains the queue on its own timer. Publishers never
/// wait for the UI, and a burst of events (a token stream, a fast training loop) costs one redraw
/// per tick instead of one per event.
/// </summary>
public sealed class EventPump : IDisposable
{
    private readonly ConcurrentQueue<IHostEvent> _queue = new();
    private readonly IDisposable _subscription;

    /// <summary>Starts queueing every event published on <paramref name="events"/>.</summary>
    public EventPump(EventBus events) => _subscription = events.Subscribe<IHostEvent>(_queue.Enqueue);

    /// <summary>How many events wait.</summary>
    public int Pending => _queue.Count;

    /// <summary>Takes up to <paramref name="max"/> waiting events, oldest first.</summary>
    public IReadOnlyList<IHostEvent> Drain(int max = 10_000)
    {
        var list = new List<IHostEvent>();
        while (list.Count < max && _queue.TryDequeue(out var e)) list.Add(e);
        return list;
    }

    /// <summary>Stops queueing.</summary>
    public void Dispose() => _subscription.Dispose();
}
