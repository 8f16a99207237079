using System.Collections.Concurrent;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Tests.Runtime;

public sealed class IntraOpParallelTests
{
    [Fact]
    public void Libgomp_is_found_beside_libtorch_on_linux()
    {
        // libtorch's Linux build links GNU OpenMP: without it every kernel would run on one thread.
        if (OperatingSystem.IsLinux()) Assert.True(IntraOpParallel.OnLibTorchThreads);
    }

    [Fact]
    public void Ranges_cover_every_item_once_on_libtorchs_threads()
    {
        const long count = 10_007;
        var seen = new int[count];
        var threads = new ConcurrentDictionary<int, bool>();
        int caller = Environment.CurrentManagedThreadId;
        IntraOpParallel.For(count, IntraOpParallel.MinCostPerPart, (first, end) =>
        {
            threads[Environment.CurrentManagedThreadId] = true;
            for (long i = first; i < end; i++) Interlocked.Increment(ref seen[i]);
        });
        Assert.All(seen, n => Assert.Equal(1, n));
        if (IntraOpParallel.OnLibTorchThreads && get_num_threads() >= 2)
        {
            // Parts ran on the OpenMP team: the calling thread (the team's master) and at least one worker.
            Assert.True(threads.Count >= 2, $"{threads.Count} thread(s) ran the parts");
            Assert.Contains(caller, threads.Keys);
        }
    }

    [Fact]
    public void Small_work_stays_on_the_calling_thread()
    {
        var threads = new ConcurrentDictionary<int, bool>();
        IntraOpParallel.For(1000, 10, (first, end) => threads[Environment.CurrentManagedThreadId] = true);
        Assert.Equal([Environment.CurrentManagedThreadId], threads.Keys);
    }

    [Fact]
    public void A_part_that_throws_fails_the_call_on_the_calling_thread()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            IntraOpParallel.For(4, IntraOpParallel.MinCostPerPart, (first, end) =>
            {
                if (end == 4) throw new InvalidOperationException("last part failed");
            }));
        Assert.Equal("last part failed", error.Message);
        // The team is usable afterwards.
        long total = 0;
        IntraOpParallel.For(4, IntraOpParallel.MinCostPerPart, (first, end) => Interlocked.Add(ref total, end - first));
        Assert.Equal(4, total);
    }

    [Fact]
    public void Callers_on_several_threads_at_once_each_get_their_ranges_while_the_gc_runs()
    {
        // Generation beside training, or two farm jobs in one process: each calling thread gets its own OpenMP team,
        // and a collection while ranges run on OpenMP threads (attached to .NET on their first call) is harmless.
        var errors = new ConcurrentBag<string>();
        var callers = Enumerable.Range(0, 3).Select(caller => new Thread(() =>
        {
            for (int call = 0; call < 40; call++)
            {
                long total = 0;
                IntraOpParallel.For(1000, IntraOpParallel.MinCostPerPart, (first, end) =>
                {
                    if (first == 0 && call % 10 == 0) GC.Collect();
                    var garbage = new byte[(int)(end - first)]; // managed allocation on an OpenMP thread
                    Interlocked.Add(ref total, garbage.Length);
                });
                if (total != 1000) errors.Add($"caller {caller}, call {call}: {total} of 1000 items");
            }
        })).ToList();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());
        Assert.Empty(errors);
    }
}
