using System.Diagnostics;
using PeftHost.Cli.Commands;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Reliability.Training;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Recipes;

/// <summary>
/// The output folder of <c>peft run</c> as the only place the host writes on a recipe's behalf:
/// links planted inside it at any depth (a downloaded checkpoint bundle extracted there) must not
/// carry a metrics append, a checkpoint, an adapter subfolder, a plot or a rotation delete outside;
/// <c>--out</c> may not be the root or a system folder; a second run on the same folder is refused
/// while the first lives and takes over once it is killed; staging leftovers of a killed save are
/// removed; a path too long is refused naming it.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class OutputFolderTests : IDisposable
{
    private const string Training = """
        import { loadModel, getPeftModel, addAdapter, loadDataset, train, saveAdapter, log } from "peft";
        const lora = { method: "lora", r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ["q_proj", "v_proj"] };
        const model = getPeftModel(loadModel("models/stories260k"), lora);
        const data = loadDataset([
          "Sparky the dragon lived in a big cave and liked to fly.",
          "Sparky the dragon found a red ball and gave it to Lily.",
          "Sparky the dragon baked a sweet cake for his mom.",
        ], { format: "text", maxLength: 24 });
        try { train(model, data, { maxSteps: 3, batchSize: 2, logEvery: 1, checkpointEvery: 1, keepLastCheckpoints: 1 }); log("TRAINED"); }
        catch (e) { log("refused: " + e.message); }
        try { addAdapter(model, "other", lora); saveAdapter(model, "adapter"); log("SAVED"); }
        catch (e) { log("refused: " + e.message); }
        """;

    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private string Outside => Path.Combine(_h.Folder, "outside");

    /// <summary>Plants one link inside the output folder; the outside folder holds files a write or delete through it would touch.</summary>
    [Theory]
    [InlineData("train/metrics.jsonl", "metrics.jsonl", false, true)]
    [InlineData("train/checkpoints", "checkpoints", true, true)]
    [InlineData("train/checkpoints/checkpoint-1", "checkpoint-1", true, true)]
    [InlineData("train/checkpoints/checkpoint-1/evil", "evil", true, false)] // rotation deletes checkpoint-1: the link goes, not what it points to
    [InlineData("train/loss.png", "loss.png", false, true)]
    [InlineData("adapter/other", "other", true, true)]
    [InlineData("train", "train", true, true)]
    public void A_link_planted_inside_the_output_folder_carries_no_write_or_delete_out(string link, string target, bool isFolder, bool refused)
    {
        Directory.CreateDirectory(Outside);
        string victim = Path.Combine(Outside, target);
        if (isFolder)
        {
            // What rotation (keepLastCheckpoints) would delete and a save would write into.
            Directory.CreateDirectory(Path.Combine(victim, "checkpoint-1"));
            File.WriteAllText(Path.Combine(victim, "checkpoint-1", "trainer_state.json"), "{}");
            File.WriteAllText(Path.Combine(victim, "trainer_state.json"), "{}");
        }
        else
        {
            File.WriteAllText(victim, "precious\n");
        }
        string planted = Path.Combine(_h.Output, link);
        Directory.CreateDirectory(Path.GetDirectoryName(planted)!);
        File.CreateSymbolicLink(planted, victim);
        var before = Snapshot(Outside);

        var run = _h.Run("links.js", Training);

        Assert.True(run.Code == 0, run.Err);
        Assert.Equal(before, Snapshot(Outside));
        var refusals = run.Out.Split('\n').Where(l => l.StartsWith("refused: ", StringComparison.Ordinal)).ToList();
        if (refused) Assert.True(refusals.Count > 0 || (run.Out + run.Err).Contains("symbolic link"), $"nothing was refused\n{run.Out}\n{run.Err}");
        else Assert.True(run.Out.Contains("TRAINED") && run.Out.Contains("SAVED"), run.Out + run.Err);
        Assert.All(refusals, r => Assert.Contains("symbolic link", r));
        ReliabilityLog.Record("output folder", $"link {link} -> outside: outside untouched; \"{(refusals.Count > 0 ? refusals[0] : refused ? run.Err.Split('\n')[0] : "trained and saved")}\"");
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/etc")]
    [InlineData("/usr/lib/peft-out")]
    [InlineData("/proc/self/cwd")]
    [InlineData("/tmp")]
    [InlineData("~")]
    public void The_output_folder_may_not_be_the_root_or_a_system_folder(string output)
    {
        if (output == "~") output = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string recipe = _h.Write("hello.js", "import { log } from \"peft\";\nlog(\"RAN\");\n");
        bool existed = Directory.Exists(output);
        var run = RecipeHarness.RunFile(recipe, output);
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.DoesNotContain("RAN", run.Out);
        Assert.Contains("cannot be an output folder", run.Err);
        Assert.Contains(output, run.Err);
        Assert.False(File.Exists(Path.Combine(output, "run.json")) && !existed, "run.json was written");
        Assert.False(File.Exists(Path.Combine(output, ".peft.lock")));
        Assert.Equal(existed, Directory.Exists(output));
    }

    [Fact]
    public void A_second_run_on_the_same_output_folder_is_refused_naming_the_holder_and_a_killed_holder_is_taken_over()
    {
        string holding = _h.Write("hold.js", """
            import { log } from "peft";
            log("READY");
            const end = Date.now() + 120000;
            while (Date.now() < end) { }
            """);
        using var first = PeftProcess.Run(holding, _h.Output, "--timeout", "300");
        var clock = Stopwatch.StartNew();
        while (!first.Stdout.Contains("READY") && !first.HasExited && clock.Elapsed < TimeSpan.FromSeconds(90)) Thread.Sleep(100);
        Assert.True(first.Stdout.Contains("READY"), $"the first run did not start\n{first.Stdout}\n{first.Stderr}");
        string runFile = File.ReadAllText(Path.Combine(_h.Output, "run.json"));

        string second = _h.Write("second.js", "import { log } from \"peft\";\nlog(\"SECOND RAN\");\n");
        var refused = RecipeHarness.RunFile(second, _h.Output);
        Assert.Equal(PeftCli.Failure, refused.Code);
        Assert.DoesNotContain("SECOND RAN", refused.Out);
        Assert.Contains($"in use by another run (process {first.Id})", refused.Err);
        Assert.Equal(runFile, File.ReadAllText(Path.Combine(_h.Output, "run.json"))); // the first run's record untouched

        int killed = first.Id;
        first.Kill(); // SIGKILL: the lock file keeps its pid, the kernel drops the lock
        var after = RecipeHarness.RunFile(second, _h.Output);
        Assert.True(after.Code == 0, after.Err);
        Assert.Contains("SECOND RAN", after.Out);
        Assert.Contains($"took over the lock of process {killed}", after.Out + after.Err);
        ReliabilityLog.Record("output folder", $"second run on a busy --out: exit 1, \"{refused.Err.Split('\n')[0]}\"; after SIGKILL of the holder the next run took over");
    }

    [Fact]
    public void Staging_leftovers_of_killed_saves_are_removed_by_the_next_run_and_the_next_save()
    {
        int dead = DeadProcessId();
        Directory.CreateDirectory(_h.Output);
        string[] stale =
        [
            Path.Combine(_h.Output, $".adapter.staging-{dead}-{Guid.NewGuid():N}"),
            Path.Combine(_h.Output, $".adapter.staging-{Guid.NewGuid():N}"), // the name older versions gave
            Path.Combine(_h.Output, "saved", $".a.staging-{dead}-{Guid.NewGuid():N}"),
        ];
        string live = Path.Combine(_h.Output, $".adapter.staging-1-{Guid.NewGuid():N}"); // pid 1 runs: a save in progress elsewhere
        foreach (var folder in stale.Append(live))
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "adapter_model.safetensors"), "half");
        }

        var run = _h.RunOk("""
            import { loadModel, getPeftModel, addAdapter, saveAdapter } from "peft";
            const lora = { method: "lora", r: 2, targetModules: ["q_proj"] };
            const model = getPeftModel(loadModel("models/stories260k"), lora);
            addAdapter(model, "a", lora);
            saveAdapter(model, "saved", { adapterNames: ["a"] });
            """);
        Assert.All(stale, s => Assert.False(Directory.Exists(s), $"{s} was left"));
        Assert.True(Directory.Exists(live), "a live writer's staging folder was removed");
        Assert.True(File.Exists(Path.Combine(_h.Output, "saved", "a", "adapter_config.json")));
    }

    [Fact]
    public void A_path_too_long_is_refused_naming_it()
    {
        var run = _h.Run("long.js", """
            import { loadModel, getPeftModel, saveAdapter } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2, targetModules: ["q_proj"] });
            saveAdapter(model, "a".repeat(300));
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "long.js", 3, 1, "is 300 bytes long; a file or folder name may have at most 255");
        Assert.DoesNotContain("Exception", run.Err.Split('\n')[0]);

        string recipe = _h.Write("hello.js", "import { log } from \"peft\";\nlog(\"RAN\");\n");
        string deep = Path.Combine(_h.Folder, string.Join('/', Enumerable.Repeat(new string('d', 200), 25)));
        var outTooLong = RecipeHarness.RunFile(recipe, deep);
        Assert.Equal(PeftCli.Failure, outTooLong.Code);
        Assert.Matches(@"the path is [\d,]+ bytes long; the system allows at most 4,095", outTooLong.Err);
        ReliabilityLog.Record("output folder", $"a 300-byte name: \"{run.Err.Split('\n')[0]}\"; a long --out: \"{outTooLong.Err.Split('\n')[0]}\"");
    }

    private static int DeadProcessId()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    /// <summary>Every entry under <paramref name="folder"/> with its content (files) or kind.</summary>
    private static SortedDictionary<string, string> Snapshot(string folder)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories))
            result[Path.GetRelativePath(folder, entry)] = File.Exists(entry) ? File.ReadAllText(entry) : "folder";
        return result;
    }
}
