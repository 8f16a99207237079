using System.Collections.Concurrent;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Core.Telemetry;

namespace PeftHost.Tests.Dashboard;

/// <summary>The job thread: one job at a time, cancellable, every end reported on the bus.</summary>
public sealed class JobRunnerTests
{
    private sealed class Recorder
    {
        public Recorder(EventBus bus) => bus.Subscribe<IHostEvent>(Events.Enqueue);
        public ConcurrentQueue<IHostEvent> Events { get; } = new();
        public T Single<T>() => Assert.Single(Events.OfType<T>());
    }

    [Fact]
    public void A_job_runs_on_the_job_thread_and_reports_start_and_end()
    {
        var bus = new EventBus();
        var seen = new Recorder(bus);
        using var jobs = new JobRunner(bus);
        string? thread = null;
        int? id = jobs.TryStart(JobKind.Model, "load", _ => { thread = Thread.CurrentThread.Name; }, out var busy);
        Assert.Equal(1, id);
        Assert.Null(busy);
        Assert.True(jobs.WaitForIdle(TimeSpan.FromSeconds(10)));
        Assert.Equal("peft job", thread);
        Assert.Equal(new JobStartedEvent(1, JobKind.Model, "load") { Time = seen.Single<JobStartedEvent>().Time }, seen.Single<JobStartedEvent>());
        var end = seen.Single<JobFinishedEvent>();
        Assert.Equal((1, JobOutcome.Succeeded, (string?)null), (end.JobId, end.Outcome, end.Message));
        Assert.False(jobs.IsBusy);
    }

    [Fact]
    public void A_second_job_is_refused_while_one_runs_never_queued()
    {
        var bus = new EventBus();
        using var jobs = new JobRunner(bus);
        using var gate = new ManualResetEventSlim();
        jobs.TryStart(JobKind.Recipe, "tiny-train.js", _ => gate.Wait(), out _);
        Assert.True(jobs.IsBusy);
        Assert.Equal((JobKind.Recipe, "tiny-train.js"), jobs.Current);
        Assert.Null(jobs.TryStart(JobKind.Generation, "generate", _ => { }, out var busy));
        Assert.Equal("tiny-train.js", busy);
        gate.Set();
        Assert.True(jobs.WaitForIdle(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, jobs.TryStart(JobKind.Generation, "generate", _ => { }, out _));
        Assert.True(jobs.WaitForIdle(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Cancel_fires_the_job_s_token_and_the_job_ends_cancelled()
    {
        var bus = new EventBus();
        var seen = new Recorder(bus);
        using var jobs = new JobRunner(bus);
        using var started = new ManualResetEventSlim();
        jobs.TryStart(JobKind.Recipe, "long.js", token =>
        {
            started.Set();
            while (true) { token.ThrowIfCancellationRequested(); Thread.Sleep(5); }
        }, out _);
        Assert.True(started.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(jobs.Cancel());
        Assert.True(jobs.Cancel()); // a second Ctrl-C is harmless and reported once
        Assert.True(jobs.WaitForIdle(TimeSpan.FromSeconds(10)));
        Assert.Equal(JobOutcome.Cancelled, seen.Single<JobFinishedEvent>().Outcome);
        Assert.Equal("long.js", seen.Single<JobCancellingEvent>().Name);
        Assert.False(jobs.Cancel());
    }

    [Fact]
    public void A_throwing_job_ends_failed_with_its_message_and_the_runner_goes_on()
    {
        var bus = new EventBus();
        var seen = new Recorder(bus);
        using var jobs = new JobRunner(bus);
        jobs.TryStart(JobKind.Model, "load", _ => throw new IOException("models/x: not found"), out _);
        Assert.True(jobs.WaitForIdle(TimeSpan.FromSeconds(10)));
        var end = seen.Single<JobFinishedEvent>();
        Assert.Equal(JobOutcome.Failed, end.Outcome);
        Assert.Equal("models/x: not found", end.Message); // the user's words, no .NET type name
        Assert.Contains(seen.Events.OfType<LogEvent>(), l => l.Level == LogLevel.Error && l.Message == "load failed: models/x: not found");

        jobs.TryStart(JobKind.Model, "broken", _ => throw new NullReferenceException("Object reference not set to an instance of an object."), out _);
        Assert.True(jobs.WaitForIdle(TimeSpan.FromSeconds(10)));
        Assert.Equal("unexpected failure: Object reference not set to an instance of an object.", seen.Events.OfType<JobFinishedEvent>().Last().Message);

        jobs.TryStart(JobKind.Model, "again", _ => new JobResult(JobOutcome.Failed, "reported, not thrown"), out _);
        Assert.True(jobs.WaitForIdle(TimeSpan.FromSeconds(10)));
        Assert.Equal("reported, not thrown", seen.Events.OfType<JobFinishedEvent>().Last().Message);
    }

    [Fact]
    public void Dispose_cancels_the_running_job()
    {
        var bus = new EventBus();
        var seen = new Recorder(bus);
        var jobs = new JobRunner(bus);
        using var started = new ManualResetEventSlim();
        jobs.TryStart(JobKind.Recipe, "long.js", token => { started.Set(); token.WaitHandle.WaitOne(); token.ThrowIfCancellationRequested(); }, out _);
        Assert.True(started.Wait(TimeSpan.FromSeconds(10)));
        jobs.Dispose();
        Assert.Equal(JobOutcome.Cancelled, seen.Single<JobFinishedEvent>().Outcome);
        Assert.Throws<ObjectDisposedException>(() => jobs.TryStart(JobKind.Model, "late", _ => { }, out _));
    }
}
