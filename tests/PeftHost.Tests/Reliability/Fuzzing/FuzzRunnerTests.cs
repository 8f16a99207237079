using PeftHost.Core.Runtime;
using static TorchSharp.torch;

namespace PeftHost.Tests.Reliability.Fuzzing;

/// <summary>The fuzz harness itself catches what it claims to: wrong exception types, unnamed files, hangs, huge allocations.</summary>
// The peak-memory checks read the process-wide high-water mark: no other test may allocate meanwhile.
[Collection(PeftHost.Tests.Training.TorchRngCollection.Name)]
public sealed class FuzzRunnerTests
{
    private static readonly byte[] Seed = "{\"a\": 1}"u8.ToArray();

    /// <summary>A target whose cases count as hangs after <paramref name="timeoutSeconds"/> (short, so the hang test is quick).</summary>
    private static FuzzTarget Target(Action<string, string> read, double timeoutSeconds = 1) =>
        new("self-test", "input.json", Seed, (rng, data) => Mutator.MutateBytes(rng, data), read, typeof(FormatException))
        {
            CaseTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        };

    /// <summary>Throws on every case but the seed (which the runner loads first, as a sanity check).</summary>
    private static Action<string, string> OnCases(Action<string> onCase) => (_, file) =>
    {
        if (!File.ReadAllBytes(file).AsSpan().SequenceEqual(Seed)) onCase(file);
    };

    [Fact]
    public void Mutations_are_reproducible_from_the_seed_and_case_index()
    {
        var target = FuzzTargets.SafeTensors();
        for (int i = 0; i < 50; i++)
            Assert.Equal(FuzzRunner.Case(target, 7, i).Data, FuzzRunner.Case(target, 7, i).Data);
        Assert.NotEqual(FuzzRunner.Case(target, 7, 1).Data, FuzzRunner.Case(target, 8, 1).Data);
    }

    [Fact]
    public void Clean_errors_naming_the_file_pass()
    {
        var report = FuzzRunner.Run(Target(OnCases(file => throw new FormatException($"{file}: bad"))), 20, 1);
        Assert.Equal((0, 20, 20), (report.FailureCount, report.Cases, report.Refused));
    }

    [Fact]
    public void Another_exception_type_is_a_failure()
    {
        var report = FuzzRunner.Run(Target(OnCases(_ => throw new IndexOutOfRangeException("oops"))), 5, 1);
        Assert.Equal(5, report.FailureCount);
        Assert.Contains("unexpected System.IndexOutOfRangeException", report.Failures[0]);
    }

    [Fact]
    public void A_named_error_that_does_not_name_the_file_is_a_failure()
    {
        var report = FuzzRunner.Run(Target(OnCases(_ => throw new FormatException("bad input"))), 3, 1);
        Assert.Equal(3, report.FailureCount);
        Assert.Contains("does not name", report.Failures[0]);
    }

    [Fact]
    public void A_hang_is_reported_and_the_run_goes_on()
    {
        var release = new ManualResetEventSlim();
        int calls = 0;
        var report = FuzzRunner.Run(Target(OnCases(file =>
        {
            if (Interlocked.Increment(ref calls) == 2) release.Wait(TimeSpan.FromSeconds(30)); // the second case hangs
            throw new FormatException($"{file}: bad");
        })), 4, 1);
        release.Set();
        Assert.Equal(1, report.FailureCount);
        Assert.Contains("hang: still running after 1 s", report.Failures[0]);
        Assert.Equal(3, report.Refused); // the cases after the hung one ran on a fresh thread
    }

    [Fact]
    public void A_huge_managed_allocation_is_a_failure()
    {
        var report = FuzzRunner.Run(Target(OnCases(file =>
        {
            var big = new byte[100 << 20];
            GC.KeepAlive(big);
            throw new FormatException($"{file}: bad");
        })), 2, 1);
        Assert.Equal(2, report.FailureCount);
        Assert.Contains("huge allocation", report.Failures[0]);
    }

    [Fact]
    public void A_huge_native_allocation_freed_before_the_case_ends_is_a_failure()
    {
        if (ProcessMemory.PeakResidentBytes() == 0) return; // no /proc high-water mark on this system
        var report = FuzzRunner.Run(Target(OnCases(file =>
        {
            using (var t = ones(96L << 20)) { } // 384 MiB touched by torch, freed at once
            throw new FormatException($"{file}: bad");
        }), timeoutSeconds: 60), 2, 1); // loading libtorch and touching 384 MiB can take over a second on a busy machine
        Assert.True(report.FailureCount == 2 && report.Failures[0].Contains("resident memory peaked", StringComparison.Ordinal),
            string.Join("\n", report.Failures));
    }
}
