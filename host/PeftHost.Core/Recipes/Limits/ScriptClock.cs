using System.Diagnostics;

namespace PeftHost.Core.Recipes.Limits;

/// <summary>
/// Measures the time a recipe spends running JavaScript: it runs from the start of the run and
/// stops while a host step (loading a model, training, generating) does its work, so the time
/// limit bounds script loops, not the length of a training run. Callbacks a step makes into
/// JavaScript run the clock again. Driven by the script thread; <see cref="SingleCallWatch"/> only reads it.
/// </summary>
public sealed class ScriptClock
{
    private readonly Stopwatch _watch = new();

    /// <summary>Script time so far.</summary>
    public TimeSpan Elapsed => _watch.Elapsed;

    /// <summary>Whether JavaScript is running now (not a host step); read from the runner's watch thread too.</summary>
    public bool IsRunning => _watch.IsRunning;

    /// <summary>Starts measuring.</summary>
    public void Start() => _watch.Start();

    /// <summary>Stops measuring until the returned scope ends; then the clock is as it was.</summary>
    public IDisposable Pause() => Set(running: false);

    /// <summary>Measures until the returned scope ends; then the clock is as it was.</summary>
    public IDisposable Resume() => Set(running: true);

    private IDisposable Set(bool running)
    {
        bool previous = _watch.IsRunning;
        Apply(running);
        return new Restore(this, previous);
    }

    private void Apply(bool running)
    {
        if (running) _watch.Start();
        else _watch.Stop();
    }

    private sealed class Restore(ScriptClock clock, bool running) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            clock.Apply(running);
        }
    }
}
