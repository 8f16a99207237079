using PeftHost.Cli.Commands;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Dashboard;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>
/// Checkpoints as Hugging Face Trainer writes them for PEFT models: every <c>checkpoint-N/</c> is an adapter folder
/// (loadable by <c>loadAdapter</c>, <c>peft eval --adapter</c> and the dashboard), rotated by <c>saveTotalLimit</c>
/// without ever losing the best one, which <c>loadBestModelAtEnd</c> loads at the end.
/// </summary>
public sealed class CheckpointAdapterTests : IDisposable
{
    private const string Setup = TrainingApiTests.Setup + "\n";

    private const string EvalText = "Sparky the dragon found a red ball and gave it to Lily.";

    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Every_checkpoint_is_an_adapter_folder_that_loadAdapter_peft_eval_and_the_dashboard_load()
    {
        var run = _h.RunOk(Setup + """
            const result = train(model, data, { maxSteps: 6, batchSize: 4, learningRate: 1e-2, checkpointEvery: 2, saveTotalLimit: 2 });
            saveAdapter(model, "final");
            const fresh = loadAdapter(loadModel("models/stories260k"), result.checkpoint);
            log("same loss as the trained model:", evaluate(fresh, data).loss === evaluate(model, data).loss);
            """);
        Assert.Contains("same loss as the trained model: true", run.Out);

        string checkpoints = Path.Combine(_h.Output, "train", "checkpoints");
        Assert.Equal(["checkpoint-4", "checkpoint-6"], Directory.GetDirectories(checkpoints).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var file in new[] { AdapterFiles.ConfigFileName, AdapterFiles.WeightsFileName, ModelCard.FileName, "trainable.safetensors", "optimizer.safetensors", "trainer_state.json" })
            Assert.True(File.Exists(Path.Combine(checkpoints, "checkpoint-4", file)), file);

        // The last checkpoint holds the adapter the run ended with: the CLI scores it exactly as the saved one.
        string text = Path.Combine(_h.Folder, "eval.txt");
        File.WriteAllText(text, EvalText);
        var fromCheckpoint = CliTests.Run("eval", "--model", TestPaths.Stories260k, "--adapter", Path.Combine(checkpoints, "checkpoint-6"), "--text-file", text);
        var fromSaved = CliTests.Run("eval", "--model", TestPaths.Stories260k, "--adapter", Path.Combine(_h.Output, "final"), "--text-file", text);
        Assert.True(fromCheckpoint.Code == 0, fromCheckpoint.Err);
        Assert.Equal(fromSaved.Out, fromCheckpoint.Out);

        // The dashboard's Adapters panel loads it like any adapter folder.
        using var dash = new HeadlessModel();
        dash.Model.Attach(ModelLoader.Load(TestPaths.Stories260k), TokenizerLoader.Load(TestPaths.Stories260k), TestPaths.Stories260k);
        Assert.True(dash.Adapters.Load(Path.Combine(checkpoints, "checkpoint-4")).Started);
        dash.Settle();
        Assert.Equal("default", dash.Model.Peft!.ActiveAdapter); // the first adapter of a model is "default"
        Assert.Single(dash.Model.Peft.Adapters);
    }

    [Fact]
    public void LoadBestModelAtEnd_loads_the_best_evaluation_and_rotation_never_removes_its_checkpoint()
    {
        // Training lowers eval_loss, so "greater is better" makes the first evaluation the best one: a best that is not the last.
        var run = _h.RunOk(Setup + """
            const result = train(model, data, {
              maxSteps: 8, batchSize: 4, learningRate: 1e-2, validation: data, evalEvery: 2, checkpointEvery: 2,
              saveTotalLimit: 1, loadBestModelAtEnd: true, metricForBestModel: "loss", greaterIsBetter: true,
            });
            const first = result.evaluations[0].metrics.eval_loss;
            log("best:", result.bestStep, result.bestMetric === first, result.bestCheckpoint.endsWith("checkpoint-2"));
            log("last eval lower:", result.evaluations[3].metrics.eval_loss < first);
            const now = evaluate(model, data, { batchSize: 4 }).loss;
            log("model is the best one:", Math.abs(now - first) < 1e-5);
            """);
        Assert.Contains("best: 2 true true", run.Out);
        Assert.Contains("last eval lower: true", run.Out);
        Assert.Contains("model is the best one: true", run.Out);
        Assert.Contains("loaded the best model from", run.Out + run.Err);
        // A limit of 1 keeps the newest and the best, as Hugging Face's rotation does.
        string checkpoints = Path.Combine(_h.Output, "train", "checkpoints");
        Assert.Equal(["checkpoint-2", "checkpoint-8"], Directory.GetDirectories(checkpoints).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("validation: data, evalEvery: 4, checkpointEvery: 3, loadBestModelAtEnd: true", "option 'checkpointEvery' = 3: must divide evalEvery (4) with loadBestModelAtEnd")]
    [InlineData("checkpointEvery: 1, evalEvery: 1, loadBestModelAtEnd: true", "loadBestModelAtEnd picks the best checkpoint by an evaluation metric; give a validation dataset")]
    [InlineData("saveTotalLimit: 2, keepLastCheckpoints: 2", "give saveTotalLimit or keepLastCheckpoints (its former name), not both")]
    [InlineData("saveTotalLimit: 0", "option 'saveTotalLimit' = 0: must be at least 1")]
    public void Checkpoint_options_that_cannot_work_are_refused_naming_the_option(string options, string message)
    {
        var run = _h.Run("recipe.js", Setup + $"train(model, data, {{ maxSteps: 4, batchSize: 4, {options} }});\n");
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains(message, run.Err);
    }

    [Fact]
    public void KeepLastCheckpoints_still_works_as_the_former_name_of_saveTotalLimit()
    {
        _h.RunOk(Setup + "train(model, data, { maxSteps: 3, batchSize: 4, checkpointEvery: 1, keepLastCheckpoints: 1 });\n");
        Assert.Equal(["checkpoint-3"], Directory.GetDirectories(Path.Combine(_h.Output, "train", "checkpoints")).Select(Path.GetFileName));
    }
}
