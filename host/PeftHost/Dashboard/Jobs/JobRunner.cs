using System.Diagnostics;
using PeftHost.Core.Runtime;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Jobs;

/// <summary>
/// The host's job thread: runs one background job at a time (a recipe run, a model load, a
/// generation), each with its own <see cref="CancellationToken"/>. Starting a job while another
/// runs is refused, never queued, so the user always knows what is running. The caller's thread
/// (the UI) never waits on a job: it learns about progress and ends through the event bus —
/// <see cref="JobStartedEvent"/>, the job's own events, then <see cref="JobFinishedEvent"/>.
/// <para>
/// One long-lived thread (not the thread pool) runs every job, so thread-local engine state
/// (libtorch grad mode, dispose scopes) stays on one thread and a long run never starves the pool.
/// </para>
/// </summary>
public sealed class JobRunner : IDisposable
{
    /// <summary>The <see cref="IHostEvent.Source"/> of job events.</summary>
    public const string EventSource = "jobs";

    private const int StackSize = 16 * 1024 * 1024;

    private readonly EventBus _events;
    private readonly Thread _thread;
    private readonly object _gate = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly ManualResetEventSlim _idle = new(true);
    private Job? _pending;
    private Job? _current;
    private int _lastId;
    private bool _disposed;

    /// <summary>Starts the job thread; job events go to <paramref name="events"/>.</summary>
    public JobRunner(EventBus events)
    {
        _events = events;
        _thread = new Thread(Loop, StackSize) { Name = "peft job", IsBackground = true };
        _thread.Start();
    }

    /// <summary>True while a job is starting or running.</summary>
    public bool IsBusy
    {
        get { lock (_gate) return _pending is not null || _current is not null; }
    }

    /// <summary>The running (or about to run) job's kind and name; null when idle.</summary>
    public (JobKind Kind, string Name)? Current
    {
        get
        {
            lock (_gate)
            {
                var job = _current ?? _pending;
                return job is null ? null : (job.Kind, job.Name);
            }
        }
    }

    /// <summary>True when the current job has been asked to stop.</summary>
    public bool IsCancelling
    {
        get { lock (_gate) return (_current ?? _pending)?.Cancellation.IsCancellationRequested == true; }
    }

    /// <summary>
    /// Starts <paramref name="work"/> on the job thread, unless a job is already running (then
    /// nothing happens and <paramref name="busyWith"/> names it). The work's exceptions are
    /// caught: an <see cref="OperationCanceledException"/> after cancellation ends it as
    /// Cancelled, anything else as Failed with the exception's message.
    /// </summary>
    /// <returns>The new job's id, or null when the runner was busy.</returns>
    public int? TryStart(JobKind kind, string name, Func<CancellationToken, JobResult> work, out string? busyWith)
    {
        int id;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var running = _current ?? _pending;
            if (running is not null)
            {
                busyWith = running.Name;
                return null;
            }
            id = ++_lastId;
            _pending = new Job(id, kind, name, work);
            _idle.Reset();
            busyWith = null;
        }
        _wake.Release();
        return id;
    }

    /// <summary>Like <see cref="TryStart(JobKind, string, Func{CancellationToken, JobResult}, out string?)"/> for work that just succeeds or throws.</summary>
    public int? TryStart(JobKind kind, string name, Action<CancellationToken> work, out string? busyWith) =>
        TryStart(kind, name, token => { work(token); return JobResult.Success; }, out busyWith);

    /// <summary>Asks the current job to stop (cancels its token). False when no job runs.</summary>
    public bool Cancel()
    {
        Job? job;
        lock (_gate) job = _current ?? _pending;
        if (job is null) return false;
        bool first;
        try
        {
            first = !job.Cancellation.IsCancellationRequested;
            job.Cancellation.Cancel();
        }
        catch (ObjectDisposedException) { return false; } // it ended meanwhile
        if (first) _events.Publish(new JobCancellingEvent(job.Id, job.Kind, job.Name));
        return true;
    }

    /// <summary>Blocks until no job runs or <paramref name="timeout"/> passes; true when idle. For shutdown and tests, never the UI thread.</summary>
    public bool WaitForIdle(TimeSpan timeout) => _idle.Wait(timeout);

    /// <summary>Cancels the current job, waits briefly for it, and ends the thread.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        Cancel();
        _wake.Release();
        _thread.Join(TimeSpan.FromSeconds(10));
    }

    private void Loop()
    {
        while (true)
        {
            _wake.Wait();
            Job? job;
            lock (_gate)
            {
                if (_pending is null)
                {
                    if (_disposed) return;
                    continue;
                }
                job = _current = _pending;
                _pending = null;
            }
            Run(job);
            lock (_gate)
            {
                _current = null;
                job.Cancellation.Dispose();
                _idle.Set();
                if (_disposed) return;
            }
        }
    }

    private void Run(Job job)
    {
        _events.Publish(new JobStartedEvent(job.Id, job.Kind, job.Name));
        var clock = Stopwatch.StartNew();
        JobResult result;
        var token = job.Cancellation.Token;
        try
        {
            result = job.Work(token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            result = new JobResult(JobOutcome.Cancelled, "cancelled");
        }
        catch (Exception e)
        {
            result = new JobResult(JobOutcome.Failed, FailureText.Describe(e));
            _events.Log(LogLevel.Error, EventSource, $"{job.Name} failed: {result.Message}");
            _events.Log(LogLevel.Debug, EventSource, e.ToString());
        }
        _events.Publish(new JobFinishedEvent(job.Id, job.Kind, job.Name, result.Outcome, result.Message, clock.Elapsed));
    }

    private sealed class Job(int id, JobKind kind, string name, Func<CancellationToken, JobResult> work)
    {
        public int Id { get; } = id;
        public JobKind Kind { get; } = kind;
        public string Name { get; } = name;
        public Func<CancellationToken, JobResult> Work { get; } = work;
        public CancellationTokenSource Cancellation { get; } = new();
    }
}
