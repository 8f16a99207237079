using PeftHost.Farm;

namespace PeftHost.Tests.Farm;

/// <summary>What a worker reports with its lease renewals: the latest step and loss, and this attempt's own step rate.</summary>
public sealed class JobProgressTrackerTests
{
    [Fact]
    public void The_rate_counts_only_the_steps_of_this_attempt_so_a_resumed_jobs_eta_is_not_flattered()
    {
        var tracker = new JobProgressTracker();
        Assert.Null(tracker.Current);
        var t0 = new DateTime(2026, 12, 7, 5, 0, 0, DateTimeKind.Utc);
        // Resumed from a checkpoint at step 40: its first event here is step 41.
        tracker.Observe(41, 100, 2.5, t0);
        Assert.Equal(0, tracker.Current!.StepsPerSecond); // one step seen: no rate yet
        tracker.Observe(45, 100, 2.25, t0.AddSeconds(8));
        var p = tracker.Current!;
        Assert.Equal((45, 100, 2.25), (p.Step, p.TotalSteps, p.Loss));
        Assert.Equal(0.5, p.StepsPerSecond, 9); // 4 steps in 8 s, not 45 in 8 s
        // A copy: the worker's renewal does not see later changes half-made.
        tracker.Observe(46, 100, 2.0, t0.AddSeconds(10));
        Assert.Equal(45, p.Step);
    }
}
