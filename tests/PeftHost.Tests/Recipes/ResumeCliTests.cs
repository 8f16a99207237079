using System.Text.Json.Nodes;
using PeftHost.Cli.Commands;
using PeftHost.Core.Peft;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Support;
using PeftHost.Tests.Training;

namespace PeftHost.Tests.Recipes;

/// <summary>
/// <c>peft run RECIPE.js --resume [RUN_DIR]</c>: an interrupted run continues in its own folder with its own <c>--set</c>
/// values and ends with the adapter an uninterrupted run makes; runs that cannot be continued are refused saying why.
/// </summary>
[Collection(TorchRngCollection.Name)] // runs compared bit for bit: no parallel test may draw from torch's global generator meanwhile
public sealed class ResumeCliTests : IDisposable
{
    private const string Training = """
        import { loadModel, getPeftModel, loadDataset, saveAdapter, train, defineParams, setSeed, log } from "peft";
        const params = defineParams({ steps: 4, lr: 0.001 });
        setSeed(7);
        const texts = [
          "Sparky the dragon lived in a big cave and liked to fly.",
          "Sparky the dragon found a red ball and gave it to Lily.",
          "Sparky the dragon baked a sweet cake for his mom.",
          "Sparky the dragon helped a bird fly back to its nest.",
          "Tom had a red ball and a blue kite in the park.",
        ];
        // No dropout: with LoRA dropout on, a resumed run's adapter was measured to differ from the uninterrupted one
        // (with the recipe's resumeFrom as with --resume; the trainer-level resume test holds dropout to 1e-6, not bit for bit).
        const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ["q_proj", "v_proj"] });
        const data = loadDataset(texts, { format: "text", maxLength: 24 });
        train(model, data, { maxSteps: params.steps, batchSize: 2, learningRate: params.lr, logEvery: 1,
          onStep: (step) => { if (step.step === 3) log("AT STEP 3"); } });
        saveAdapter(model, "adapter");
        log("DONE");
        """;

    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void An_interrupted_run_resumed_from_the_cli_ends_with_the_adapter_of_an_uninterrupted_run_bit_for_bit()
    {
        string[] sets = ["--set", "steps=8", "--set", "lr=0.01"];
        string recipe = _h.Write("tune.js", Training);
        string straight = Path.Combine(_h.Folder, "straight");
        var whole = RecipeHarness.RunFile(recipe, straight, sets);
        Assert.True(whole.Code == 0, whole.Err);

        var stopped = _h.RunCancelledAt("tune.js", Training, "AT STEP 3", sets);
        Assert.Equal(RunCommand.Cancelled, stopped.Code);
        Assert.DoesNotContain("DONE", stopped.Out);
        string command = $"peft run {recipe} --resume {_h.Output} --workspace {TestPaths.RepoRoot}";
        Assert.Contains($"to resume: {command}", stopped.Err);
        Assert.Equal("cancelled", RunJson(_h.Output)["status"]!.GetValue<string>());

        // The printed command, run as printed (no --set: the values come from run.json).
        var resumed = CliTests.Run(command.Split(' ')[1..]);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains("DONE", resumed.Out);
        Assert.Matches(@"resumed from \S+checkpoint-[34] at step [34]", resumed.Err);
        var record = RunJson(_h.Output);
        Assert.Equal("succeeded", record["status"]!.GetValue<string>());
        Assert.Single(record["resumed"]!.AsArray());
        Assert.Equal("8", record["parameters"]!["steps"]!.GetValue<string>());

        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "adapter", AdapterFiles.WeightsFileName)),
            File.ReadAllBytes(Path.Combine(_h.Output, "adapter", AdapterFiles.WeightsFileName)));
    }

    [Fact]
    public void Without_a_folder_resume_continues_the_newest_unfinished_run_of_the_recipe_under_runs()
    {
        // A workspace of its own: its runs/ holds two failed runs of the recipe (no data yet) and a run of another recipe.
        string workspace = Path.Combine(_h.Folder, "ws");
        Directory.CreateDirectory(Path.Combine(workspace, "data"));
        string recipe = _h.Write("ws/notes.js", """
            import { loadDataset, defineParams, log } from "peft";
            const params = defineParams({ n: 0 });
            loadDataset("data/notes.txt", { format: "text" });
            log(`n=${params.n} read the notes`);
            """);
        string other = _h.Write("ws/other.js", "import { log } from \"peft\";\nlog(\"other\");\n");
        string Runs(string name) => Path.Combine(workspace, "runs", name);
        Assert.Equal(PeftCli.Failure, Run(recipe, "--out", Runs("old"), "--set", "n=1", "--workspace", workspace).Code);
        Assert.Equal(PeftCli.Failure, Run(recipe, "--out", Runs("new"), "--set", "n=2", "--workspace", workspace).Code);
        Assert.Equal(0, Run(other, "--out", Runs("zz-other"), "--workspace", workspace).Code);
        File.WriteAllText(Path.Combine(workspace, "data", "notes.txt"), "one note\n");

        var resumed = Run(recipe, "--resume", "--workspace", workspace);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains("n=2 read the notes", resumed.Out);
        Assert.Equal("succeeded", RunJson(Runs("new"))["status"]!.GetValue<string>());
        Assert.Equal("failed", RunJson(Runs("old"))["status"]!.GetValue<string>());
    }

    [Fact]
    public void Runs_that_cannot_be_continued_are_refused_saying_why()
    {
        string failing = _h.Write("fails.js", """
            import { defineParams } from "peft";
            const params = defineParams({ lr: 1 });
            throw new Error("boom");
            """);
        string failedRun = Path.Combine(_h.Folder, "failed-run");
        Assert.Equal(PeftCli.Failure, RecipeHarness.RunFile(failing, failedRun, "--set", "lr=0.5").Code);

        var otherValues = Run(failing, "--resume", failedRun, "--set", "lr=0.1");
        Assert.Equal(PeftCli.Failure, otherValues.Code);
        Assert.Contains("--set lr=0.1 (the run has lr=0.5)", otherValues.Err);

        File.AppendAllText(failing, "// edited\n");
        var edited = Run(failing, "--resume", failedRun);
        Assert.Equal(PeftCli.Failure, edited.Code);
        Assert.Contains("fails.js changed since the run started", edited.Err);

        string other = _h.Write("other.js", "import { log } from \"peft\";\nlog(\"other\");\n");
        var wrongRecipe = Run(other, "--resume", failedRun);
        Assert.Equal(PeftCli.Failure, wrongRecipe.Code);
        Assert.Contains($"that run is of {failing}", wrongRecipe.Err);

        string doneRun = Path.Combine(_h.Folder, "done-run");
        Assert.Equal(0, RecipeHarness.RunFile(other, doneRun).Code);
        var completed = Run(other, "--resume", doneRun);
        Assert.Equal(PeftCli.Failure, completed.Code);
        Assert.Contains($"nothing to resume: the run in {doneRun} completed", completed.Err);

        var notARun = Run(other, "--resume", _h.Folder);
        Assert.Equal(PeftCli.Failure, notARun.Code);
        Assert.Contains("has no run.json", notARun.Err);

        var none = Run(other, "--resume", "--workspace", Path.Combine(_h.Folder, "empty-ws"));
        Assert.Equal(PeftCli.Failure, none.Code);
        Assert.Contains("nothing to resume: no run of", none.Err);

        var twoFolders = Run(other, "--resume", doneRun, "--out", failedRun);
        Assert.Equal(PeftCli.UsageError, twoFolders.Code);
    }

    private static (int Code, string Out, string Err) Run(string recipe, params string[] args) => CliTests.Run(["run", recipe, .. args]);

    private static JsonNode RunJson(string folder) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "run.json")))!;
}
