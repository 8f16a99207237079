using PeftHost.Core.Recipes.Limits;
using PeftHost.Core.Recipes.Threading;

namespace PeftHost.Tests.Recipes;

/// <summary>The handoff between the script thread and a job thread.</summary>
public sealed class JobDispatcherTests
{
    /// <summary>Runs <paramref name="body"/> on a fresh thread standing in for the script thread.</summary>
    private static T OnScriptThread<T>(Func<T> body)
    {
        T result = default!;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try { result = body(); }
            catch (Exception e) { error = e; }
        });
        t.Start();
        t.Join();
        if (error is not null) throw new AggregateException(error);
        return result;
    }

    [Fact]
    public void Jobs_run_on_another_thread_and_their_callbacks_on_the_script_thread()
    {
        var (script, job, callbacks) = OnScriptThread(() =>
        {
            int scriptThread = Environment.CurrentManagedThreadId;
            var dispatcher = new JobDispatcher(new ScriptClock());
            var seen = new List<int>();
            int jobThread = dispatcher.Run("test", default, ctx =>
            {
                for (int i = 0; i < 3; i++) ctx.OnScriptThread(() => seen.Add(Environment.CurrentManagedThreadId));
                return Environment.CurrentManagedThreadId;
            });
            return (scriptThread, jobThread, seen);
        });
        Assert.NotEqual(script, job);
        Assert.Equal([script, script, script], callbacks);
    }

    [Fact]
    public void The_job_waits_for_each_callback()
    {
        var order = OnScriptThread(() =>
        {
            var log = new List<string>();
            new JobDispatcher(new ScriptClock()).Run("test", default, ctx =>
            {
                lock (log) log.Add("job before");
                ctx.OnScriptThread(() => { Thread.Sleep(50); lock (log) log.Add("callback"); });
                lock (log) log.Add("job after");
                return 0;
            });
            return log;
        });
        Assert.Equal(["job before", "callback", "job after"], order);
    }

    [Fact]
    public void A_failing_callback_cancels_the_job_and_is_rethrown_on_the_script_thread()
    {
        var (error, cancelled) = OnScriptThread(() =>
        {
            bool jobSawCancellation = false;
            Exception? caught = null;
            try
            {
                new JobDispatcher(new ScriptClock()).Run("test", default, ctx =>
                {
                    try { ctx.OnScriptThread(() => throw new InvalidOperationException("handler broke")); }
                    catch (InvalidOperationException) { /* a step that swallows it, like an event-bus subscriber */ }
                    jobSawCancellation = ctx.Cancellation.IsCancellationRequested;
                    return 0;
                });
            }
            catch (Exception e) { caught = e; }
            return (caught, jobSawCancellation);
        });
        Assert.IsType<InvalidOperationException>(error);
        Assert.Equal("handler broke", error!.Message);
        Assert.True(cancelled);
    }

    [Fact]
    public void A_callback_interrupted_by_cancellation_is_left_to_the_job()
    {
        var (error, jobSaw) = OnScriptThread(() =>
        {
            using var cts = new CancellationTokenSource();
            string seen = "";
            Exception? caught = null;
            try
            {
                new JobDispatcher(new ScriptClock()).Run("test", cts.Token, ctx =>
                {
                    try { ctx.OnScriptThread(() => { cts.Cancel(); throw new OperationCanceledException(); }); }
                    catch (OperationCanceledException) { seen = "cancelled"; }
                    return 0;
                });
            }
            catch (Exception e) { caught = e; }
            return (caught, seen);
        });
        Assert.Null(error); // not remembered as the callback's failure: the job finished its own way
        Assert.Equal("cancelled", jobSaw);
    }

    [Fact]
    public void A_failing_job_is_rethrown_as_it_is()
    {
        var error = OnScriptThread(() =>
        {
            try
            {
                new JobDispatcher(new ScriptClock()).Run<int>("test", default, _ => throw new FormatException("bad file"));
                return null;
            }
            catch (Exception e) { return e; }
        });
        Assert.IsType<FormatException>(error);
    }

    [Fact]
    public void Job_time_is_not_script_time_but_callback_time_is()
    {
        var elapsed = OnScriptThread(() =>
        {
            var clock = new ScriptClock();
            clock.Start();
            new JobDispatcher(clock).Run("test", default, ctx =>
            {
                Thread.Sleep(400);
                ctx.OnScriptThread(() => Thread.Sleep(150));
                Thread.Sleep(400);
                return 0;
            });
            return clock.Elapsed;
        });
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(140), TimeSpan.FromMilliseconds(600));
    }

    [Fact]
    public void A_callback_may_start_a_nested_job()
    {
        var result = OnScriptThread(() =>
        {
            var dispatcher = new JobDispatcher(new ScriptClock());
            return dispatcher.Run("outer", default, ctx =>
            {
                int inner = 0;
                ctx.OnScriptThread(() => inner = dispatcher.Run("inner", default, c2 => 21));
                return inner * 2;
            });
        });
        Assert.Equal(42, result);
    }

    [Fact]
    public void Jobs_must_be_started_from_the_script_thread()
    {
        var dispatcher = OnScriptThread(() => new JobDispatcher(new ScriptClock()));
        Assert.Throws<InvalidOperationException>(() => dispatcher.Run("test", default, _ => 0));
    }
}
