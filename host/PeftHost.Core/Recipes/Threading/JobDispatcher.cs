using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using PeftHost.Core.Recipes.Limits;

namespace PeftHost.Core.Recipes.Threading;

/// <summary>
/// Runs a recipe's long host steps (loading, training, evaluating, generating, saving) on a job
/// thread while the script thread waits and serves the job's requests to run JavaScript.
/// </summary>
/// <remarks>
/// <para>
/// Why this shape: a Jint engine is single-threaded, so JavaScript — the recipe's callbacks
/// (<c>onStep</c>, <c>on("step", …)</c>, …) included — must only ever run on the script thread. A long
/// step therefore runs on a job thread, and when it reaches a point where the recipe should be told
/// something (a step boundary, a log line, an evaluation, a checkpoint) it posts a request to a
/// queue and blocks until the script thread, which drains that queue while it waits for the job,
/// has run the callback. The job is paused for exactly as long as the callback runs, so a handler
/// sees a consistent state and what it changes (learning rate, active adapter, stop) takes effect
/// at that boundary, deterministically.
/// </para>
/// <para>
/// Running the step on another thread also keeps the sandbox's budgets honest: the script clock
/// is paused while the job works (callbacks are charged), and the host's allocations happen on
/// the job thread, so the script's memory budget counts only what JavaScript allocates.
/// </para>
/// <para>
/// A callback that throws fails the job: its exception reaches the job at the call that posted it,
/// the job's token is cancelled (so a step that swallows the exception, such as an event-bus
/// subscriber, still stops at its next check), and <see cref="Run{T}"/> rethrows that first
/// callback failure on the script thread, with its JavaScript location intact.
/// </para>
/// </remarks>
public sealed class JobDispatcher(ScriptClock clock)
{
    private const int JobStackSize = 16 * 1024 * 1024;
    private readonly int _scriptThreadId = Environment.CurrentManagedThreadId;

    /// <summary>True on the thread that owns the engine.</summary>
    public bool OnScriptThread => Environment.CurrentManagedThreadId == _scriptThreadId;

    /// <summary>
    /// Runs <paramref name="work"/> on a job thread and waits for it, running the callbacks it posts
    /// through its <see cref="JobContext"/>. Returns its result or rethrows its failure (a callback's
    /// failure first). Must be called on the script thread; calls may nest (a callback may start a job).
    /// </summary>
    public T Run<T>(string name, CancellationToken cancellation, Func<JobContext, T> work)
    {
        if (!OnScriptThread) throw new InvalidOperationException($"{name}: jobs are started from the script thread");
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using var queue = new BlockingCollection<Action>();
        var context = new JobContext(this, queue, abort);
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try { result = work(context); }
            catch (Exception e) { failure = ExceptionDispatchInfo.Capture(e); }
            finally { queue.CompleteAdding(); }
        }, JobStackSize)
        {
            IsBackground = true,
            Name = $"recipe job: {name}",
        };
        using (clock.Pause())
        {
            thread.Start();
            foreach (var callback in queue.GetConsumingEnumerable())
            {
                using (clock.Resume()) callback();
            }
            thread.Join();
        }
        context.CallbackFailure?.Throw();
        failure?.Throw();
        return result;
    }
}

/// <summary>What a running job can do: watch for cancellation and run JavaScript callbacks on the script thread.</summary>
public sealed class JobContext
{
    private readonly JobDispatcher _dispatcher;
    private readonly BlockingCollection<Action> _queue;
    private readonly CancellationTokenSource _abort;
    private readonly object _gate = new();

    internal JobContext(JobDispatcher dispatcher, BlockingCollection<Action> queue, CancellationTokenSource abort)
    {
        _dispatcher = dispatcher;
        _queue = queue;
        _abort = abort;
    }

    /// <summary>Cancelled when the host cancels the run or a callback has failed.</summary>
    public CancellationToken Cancellation => _abort.Token;

    /// <summary>The first callback failure, if any; <see cref="JobDispatcher.Run{T}"/> rethrows it.</summary>
    internal ExceptionDispatchInfo? CallbackFailure { get; private set; }

    /// <summary>True once a callback has failed.</summary>
    public bool Failed => CallbackFailure is not null;

    /// <summary>
    /// Runs <paramref name="callback"/> on the script thread and waits for it. Its exception is
    /// rethrown here (and remembered, and the job's token cancelled). After a failure, further
    /// callbacks are skipped and the failure is rethrown at once. A cancellation of the run that
    /// interrupts the callback is rethrown here but not remembered: the job handles it.
    /// </summary>
    public void OnScriptThread(Action callback)
    {
        CallbackFailure?.Throw();
        if (_dispatcher.OnScriptThread)
        {
            Invoke(callback);
        }
        else
        {
            // The exception travels back to this (job) thread: nothing may escape the script thread's
            // pump while the job still runs.
            ExceptionDispatchInfo? error = null;
            using var done = new ManualResetEventSlim();
            _queue.Add(() =>
            {
                try { Invoke(callback); }
                catch (Exception e) { error = ExceptionDispatchInfo.Capture(e); }
                finally { done.Set(); }
            });
            done.Wait();
            error?.Throw();
        }
        CallbackFailure?.Throw();
    }

    private void Invoke(Action callback)
    {
        try
        {
            callback();
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // The run is being cancelled (the script stopped between two statements): not a failure of
            // the callback. The job sees its token and stops at its next boundary, in its own way.
            throw;
        }
        catch (Exception e)
        {
            lock (_gate) CallbackFailure ??= ExceptionDispatchInfo.Capture(e);
            _abort.Cancel();
        }
    }
}
