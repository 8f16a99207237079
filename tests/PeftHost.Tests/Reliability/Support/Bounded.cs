using PeftHost.Core.Runtime;

namespace PeftHost.Tests.Reliability.Support;

/// <summary>What a bounded call did: its exception (null on success) and how far resident memory peaked above its start.</summary>
public sealed record BoundedOutcome(Exception? Error, long PeakGrowthBytes, TimeSpan Elapsed);

/// <summary>Runs a call on its own thread with a time limit, watching the resident-memory peak.</summary>
public static class Bounded
{
    /// <summary>
    /// Runs <paramref name="call"/>; fails the test if it runs longer than <paramref name="limit"/>
    /// (the thread is abandoned) or peaks more than <paramref name="maxPeakGrowthMiB"/> MiB above
    /// the resident memory it started with.
    /// </summary>
    public static BoundedOutcome Run(Action call, TimeSpan? limit = null, long maxPeakGrowthMiB = 256)
    {
        limit ??= TimeSpan.FromSeconds(20);
        Exception? error = null;
        long before = Environment.WorkingSet;
        ProcessMemory.ResetPeak();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var thread = new Thread(() =>
        {
            try { call(); }
            catch (Exception e) { error = e; }
        }, 16 << 20) { IsBackground = true, Name = "bounded call" };
        thread.Start();
        Assert.True(thread.Join(limit.Value), $"the call was still running after {limit.Value.TotalSeconds:F0} s (a hang)");
        long peak = ProcessMemory.PeakResidentBytes();
        long growth = peak > 0 ? peak - before : 0;
        Assert.True(growth <= maxPeakGrowthMiB << 20, $"resident memory peaked {growth >> 20} MiB above its start (limit {maxPeakGrowthMiB} MiB)");
        return new BoundedOutcome(error, growth, clock.Elapsed);
    }

    /// <summary>Like <see cref="Run"/>, and the call must throw <typeparamref name="T"/>; returns it.</summary>
    public static T Throws<T>(Action call, TimeSpan? limit = null, long maxPeakGrowthMiB = 256) where T : Exception
    {
        var outcome = Run(call, limit, maxPeakGrowthMiB);
        Assert.True(outcome.Error is T, outcome.Error is null ? $"expected {typeof(T).Name}, but the call succeeded"
            : $"expected {typeof(T).Name}, got {outcome.Error.GetType().Name}: {outcome.Error.Message}\n{outcome.Error.StackTrace}");
        return (T)outcome.Error!;
    }
}
