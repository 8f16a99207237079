using System.Diagnostics;
using System.Text.Json;
using PeftHost.Core.Checkpoints;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;
using Xunit.Abstractions;

namespace PeftHost.Tests.Reliability.Training;

/// <summary>
/// The real <c>peft run</c> process killed with SIGKILL in the middle of a training run (once while
/// a checkpoint is being written, if the poll catches its staging folder, once between steps),
/// restarted with <c>resumeFrom: "latest"</c>, and compared with an uninterrupted run: same losses
/// at every step and the same final adapter, within 1e-6.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class KillAndResumeTests(ITestOutputHelper output)
{
    private const int Steps = 10;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);
    private static string Recipe => TestPaths.Fixture("reliability", "recipes", "train-every-step.js");

    [Fact]
    public void A_run_killed_twice_and_resumed_matches_the_uninterrupted_run()
    {
        using var dir = new TempDir();
        string reference = dir["reference"], interrupted = dir["interrupted"];
        var clock = Stopwatch.StartNew();

        var full = PeftProcess.RunToEnd(Recipe, reference, Limit, "--set", $"steps={Steps}");
        Assert.True(full.Code == 0, full.Err);

        // Round 1: killed as soon as a checkpoint from step 3 on is being staged (or, failing that, exists).
        string kill1 = KillWhen(interrupted, [], step => step >= 3, stagingCounts: true);
        Assert.False(Directory.Exists(Path.Combine(interrupted, "adapter")), "the killed run got to the end");
        // Round 2: resumed, killed again once it has written step 6's checkpoint.
        string kill2 = KillWhen(interrupted, ["--set", "resume=latest"], step => step >= 6, stagingCounts: false);
        // Round 3: resumed to the end.
        var last = PeftProcess.RunToEnd(Recipe, interrupted, Limit, "--set", $"steps={Steps}", "--set", "resume=latest");
        Assert.True(last.Code == 0, last.Err);
        Assert.Contains("resumed from", last.Out + last.Err);

        // Same losses at every step (metrics.jsonl keeps each step once: a resume drops what the killed run logged past its checkpoint).
        var expected = Losses(reference);
        var actual = Losses(interrupted);
        Assert.Equal(Enumerable.Range(1, Steps), expected.Keys.Order());
        Assert.Equal(Enumerable.Range(1, Steps), actual.Keys.Order());
        double worstLoss = expected.Keys.Max(s => Math.Abs(expected[s] - actual[s]));
        Assert.True(worstLoss <= 1e-6, $"losses differ by up to {worstLoss:E2}");
        Assert.Equal(LoggedLosses(full.Out), LoggedLosses(last.Out));

        // Same adapter.
        double worstWeight = MaxDifference(Path.Combine(reference, "adapter", "adapter_model.safetensors"), Path.Combine(interrupted, "adapter", "adapter_model.safetensors"), out bool bitExact);
        Assert.True(worstWeight <= 1e-6, $"adapters differ by up to {worstWeight:E2}");

        // Nothing half-written is left behind.
        string checkpoints = Path.Combine(interrupted, "train", "checkpoints");
        Assert.Empty(Directory.GetDirectories(checkpoints, ".*"));
        Assert.Empty(Directory.GetFiles(interrupted, "*.tmp", SearchOption.AllDirectories));

        string summary = $"SIGKILL during training ({kill1}; then {kill2}), resumed from \"latest\": {Steps}/{Steps} step losses equal within {worstLoss:E1}, "
            + $"final adapter {(bitExact ? "bit-identical" : $"within {worstWeight:E1}")} ({clock.Elapsed.TotalSeconds:F1} s, 4 peft processes)";
        output.WriteLine(summary);
        ReliabilityLog.Record("kill-resume", summary);
    }

    /// <summary>Starts a run and SIGKILLs it when a checkpoint (or its staging folder) for a step satisfying <paramref name="when"/> appears.</summary>
    private string KillWhen(string output, string[] extra, Func<int, bool> when, bool stagingCounts)
    {
        string checkpoints = Path.Combine(output, "train", "checkpoints");
        using var run = PeftProcess.Run(Recipe, output, ["--set", $"steps={Steps}", .. extra]);
        var clock = Stopwatch.StartNew();
        string? reason = null;
        while (reason is null)
        {
            Assert.False(run.HasExited, $"the run ended (exit {(run.HasExited ? run.ExitCode : 0)}) before it could be killed\n{run.Stdout}\n{run.Stderr}");
            Assert.True(clock.Elapsed < Limit, "no checkpoint appeared");
            if (Directory.Exists(checkpoints))
            {
                foreach (var d in Directory.EnumerateDirectories(checkpoints))
                {
                    string name = Path.GetFileName(d);
                    bool staging = name.StartsWith(".checkpoint-", StringComparison.Ordinal);
                    if (staging && !stagingCounts) continue;
                    string digits = new(name.SkipWhile(c => !char.IsDigit(c)).TakeWhile(char.IsDigit).ToArray());
                    if (int.TryParse(digits, out int step) && when(step))
                    {
                        reason = staging ? $"killed while checkpoint-{step} was being written" : $"killed after checkpoint-{step}";
                        break;
                    }
                }
            }
            if (reason is null) Thread.Sleep(2);
        }
        run.Kill();
        Assert.Equal(137, run.ExitCode); // 128 + SIGKILL
        return reason;
    }

    private static Dictionary<int, double> Losses(string output) =>
        File.ReadLines(Path.Combine(output, "train", "metrics.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("type").GetString() == "train")
            .ToDictionary(e => e.GetProperty("step").GetInt32(), e => e.GetProperty("loss").GetDouble());

    private static double[] LoggedLosses(string stdout)
    {
        string line = stdout.Split('\n').Single(l => l.StartsWith("losses ", StringComparison.Ordinal));
        return JsonSerializer.Deserialize<double[]>(line["losses ".Length..])!;
    }

    private static double MaxDifference(string a, string b, out bool bitExact)
    {
        using var fa = SafeTensorsFile.Open(a);
        using var fb = SafeTensorsFile.Open(b);
        Assert.Equal(fa.Entries.Keys.Order(), fb.Entries.Keys.Order());
        double worst = 0;
        bitExact = true;
        foreach (var key in fa.Entries.Keys)
        {
            using var ta = fa.Read(key);
            using var tb = fb.Read(key);
            worst = Math.Max(worst, (ta - tb).abs().max().item<float>());
            bitExact &= TensorAssert.Identical(ta, tb);
        }
        return worst;
    }
}

/// <summary>Tests that spawn processes or measure the process's memory run one at a time, apart from the rest.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReliabilityProcessCollection
{
    public const string Name = "reliability: processes and memory";
}
