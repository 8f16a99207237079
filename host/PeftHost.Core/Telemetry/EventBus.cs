using System.Collections.Concurrent;

namespace PeftHost.Core.Telemetry;

/// <summary>Something that happened in the host: a log line, a plugin reload, a training step…</summary>
public interface IHostEvent
{
    /// <summary>When it happened.</summary>
    DateTimeOffset Time { get; }

    /// <summary>Who reported it ("trainer", "plugins", "recipe", a plugin's name…).</summary>
    string Source { get; }
}

/// <summary>
/// The host's one event bus. Training, evaluation, plugin and recipe events are published here;
/// the dashboard, the console progress view and the JSONL metrics log subscribe. Handlers run
/// synchronously on the publishing thread and must be quick; a throwing handler is isolated
/// and reported, never breaking the publisher.
/// </summary>
public sealed class EventBus
{
    private readonly ConcurrentDictionary<Type, ImmutableHandlers> _handlers = new();

    /// <summary>Calls <paramref name="handler"/> for every published event assignable to <typeparamref name="T"/>.</summary>
    public IDisposable Subscribe<T>(Action<T> handler) where T : IHostEvent
    {
        Action<IHostEvent> wrapped = e => { if (e is T typed) handler(typed); };
        _handlers.AddOrUpdate(typeof(T), _ => new ImmutableHandlers([wrapped]), (_, h) => h.With(wrapped));
        return new Subscription(() => _handlers.AddOrUpdate(typeof(T), _ => new ImmutableHandlers([]), (_, h) => h.Without(wrapped)));
    }

    /// <summary>Delivers <paramref name="e"/> to the subscribers of its type and of every type it is assignable to.</summary>
    public void Publish(IHostEvent e)
    {
        foreach (var (type, handlers) in _handlers)
        {
            if (!type.IsInstanceOfType(e)) continue;
            foreach (var handler in handlers.Items)
            {
                try { handler(e); }
                catch (Exception ex) when (e is not LogEvent)
                {
                    Publish(new LogEvent(LogLevel.Warning, "events", $"a subscriber to {e.GetType().Name} failed: {ex.Message}"));
                }
                catch (Exception) { /* a failing log subscriber cannot be reported through the log */ }
            }
        }
    }

    /// <summary>Publishes a log line.</summary>
    public void Log(LogLevel level, string source, string message) => Publish(new LogEvent(level, source, message));

    private sealed record ImmutableHandlers(Action<IHostEvent>[] Items)
    {
        public ImmutableHandlers With(Action<IHostEvent> h) => new([.. Items, h]);
        public ImmutableHandlers Without(Action<IHostEvent> h) => new(Items.Where(x => x != h).ToArray());
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;
        public void Dispose() { _dispose?.Invoke(); _dispose = null; }
    }
}

/// <summary>Log severity.</summary>
public enum LogLevel
{
    /// <summary>Detail for diagnosis.</summary>
    Debug,
    /// <summary>Normal progress.</summary>
    Info,
    /// <summary>Something the user should know about.</summary>
    Warning,
    /// <summary>A failure.</summary>
    Error,
}

/// <summary>A log line.</summary>
/// <param name="Level">Severity.</param>
/// <param name="Source">Who logged it.</param>
/// <param name="Message">The text.</param>
public sealed record LogEvent(LogLevel Level, string Source, string Message) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;
}
