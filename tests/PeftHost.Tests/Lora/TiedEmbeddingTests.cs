using System.Globalization;
using System.Text.Json.Nodes;
using PeftHost.Cli.Commands;
using PeftHost.Core.Checkpoints;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;
using Xunit;

namespace PeftHost.Tests.Lora;

/// <summary>
/// modules_to_save on a model whose lm_head is tied to embed_tokens (stories260k): the saved copy of
/// embed_tokens trains the input side only, or with ensure_weight_tying both sides, and merge, save and load give
/// the model that ran unmerged.
/// </summary>
public sealed class TiedEmbeddingTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private const string Train = """
        import { loadModel, getPeftModel, loadDataset, train, evaluate, saveAdapter, mergeAndUnload, saveModel, log } from "peft";
        const texts = ["Sparky the dragon lived in a big cave.", "Lily found a red ball in the park.", "Tom baked a cake for his mom."];
        const data = loadDataset(texts, { format: "text", maxLength: 24 });
        const model = getPeftModel(loadModel("models/stories260k"),
          { method: "lora", r: 4, loraAlpha: 8, targetModules: ["q_proj"], modulesToSave: ["embed_tokens"] });
        train(model, data, { maxSteps: 4, batchSize: 3, learningRate: 0.05, warmupSteps: 0 });
        """;

    [Fact]
    public void Merging_a_saved_embed_tokens_copy_unties_the_model_so_merged_saved_and_reloaded_score_as_unmerged()
    {
        var run = TrainMergeSaveReload(Train);
        Assert.Contains("ties lm_head to embed_tokens", run.Err);

        // The merged folder says it is untied and stores lm_head on its own (the base table).
        string folder = Path.Combine(_h.Output, "merged");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
        Assert.False(config["tie_word_embeddings"]!.GetValue<bool>());
        using var file = SafeTensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        Assert.Contains("lm_head.weight", file.Entries.Keys);
        Assert.Contains("model.embed_tokens.weight", file.Entries.Keys);
    }

    [Fact]
    public void Peft_merge_of_such_an_adapter_scores_as_the_unmerged_adapter()
    {
        _h.RunOk(Train + "\nsaveAdapter(model, \"adapter\");");
        string adapter = Path.Combine(_h.Output, "adapter");
        using var dir = new TempDir();
        File.WriteAllText(dir["text.txt"], "Sparky the dragon lived in a big cave. Lily found a red ball in the park.");
        var unmerged = CliTests.Run("eval", "--model", TestPaths.Stories260k, "--adapter", adapter, "--text-file", dir["text.txt"]);
        Assert.True(unmerged.Code == 0, unmerged.Err);
        var merge = CliTests.Run("merge", "--model", TestPaths.Stories260k, "--adapter", adapter, "--out", dir["merged"]);
        Assert.True(merge.Code == 0, merge.Err);
        var merged = CliTests.Run("eval", "--model", dir["merged"], "--text-file", dir["text.txt"]);
        Assert.True(merged.Code == 0, merged.Err);
        Assert.Equal(Loss(unmerged.Out), Loss(merged.Out), 4);
    }

    [Fact]
    public void With_ensure_weight_tying_the_trained_table_serves_both_sides_and_merge_save_load_keep_the_model_tied()
    {
        // The merged model projects with the trained table (it stays tied), so it scores as the unmerged adapter only
        // when that adapter projected with its copy too: without the tie on the output side this fails.
        var run = TrainMergeSaveReload(Train.Replace("modulesToSave: [\"embed_tokens\"]", "modulesToSave: [\"embed_tokens\"], ensureWeightTying: true"));
        Assert.DoesNotContain("trains the input side only", run.Err);

        string folder = Path.Combine(_h.Output, "merged");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
        Assert.True(config["tie_word_embeddings"]!.GetValue<bool>());
        using (var model = SafeTensorsFile.Open(Path.Combine(folder, "model.safetensors")))
            Assert.DoesNotContain("lm_head.weight", model.Entries.Keys);

        // PEFT saves the tied lm_head's copy too (a clone of the embedding copy), and reads it back without a word.
        string adapter = Path.Combine(_h.Output, "adapter");
        using (var file = SafeTensorsFile.Open(Path.Combine(adapter, "adapter_model.safetensors")))
        {
            Assert.Contains("base_model.model.model.embed_tokens.weight", file.Entries.Keys);
            Assert.Contains("base_model.model.lm_head.weight", file.Entries.Keys);
        }
        Assert.True(JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")))!["ensure_weight_tying"]!.GetValue<bool>());
        using var dir = new TempDir();
        File.WriteAllText(dir["text.txt"], "Sparky the dragon lived in a big cave. Lily found a red ball in the park. Tom baked a cake for his mom.");
        var loaded = CliTests.Run("eval", "--model", TestPaths.Stories260k, "--adapter", adapter, "--text-file", dir["text.txt"]);
        Assert.True(loaded.Code == 0, loaded.Err);
        Assert.DoesNotContain("unexpected", loaded.Err);
        var merge = CliTests.Run("merge", "--model", TestPaths.Stories260k, "--adapter", adapter, "--out", dir["merged"]);
        Assert.True(merge.Code == 0, merge.Err);
        var mergedEval = CliTests.Run("eval", "--model", dir["merged"], "--text-file", dir["text.txt"]);
        Assert.True(mergedEval.Code == 0, mergedEval.Err);
        Assert.Equal(Loss(loaded.Out), Loss(mergedEval.Out), 4);
    }

    [Theory]
    [InlineData("modulesToSave: [\"lm_head\"]", "modules_to_save: 'lm_head' is tied to model.embed_tokens")]
    public void What_cannot_be_honoured_on_a_tied_model_is_refused_naming_the_key(string options, string message)
    {
        var run = _h.Run("recipe.js", $$"""
            import { loadModel, getPeftModel } from "peft";
            getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, targetModules: ["q_proj"], {{options}} });
            """);
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains(message, run.Err);
    }

    /// <summary>
    /// Runs <paramref name="training"/>, saves the adapter, merges, saves and reloads the merged model, and checks that
    /// the unmerged, merged and reloaded models score alike on the training texts.
    /// </summary>
    private (int Code, string Out, string Err) TrainMergeSaveReload(string training)
    {
        var run = _h.RunOk(training + """
            log("loss-unmerged", evaluate(model, data).loss);
            saveAdapter(model, "adapter");
            const merged = mergeAndUnload(model);
            log("loss-merged", evaluate(merged, data).loss);
            log("loss-reloaded", evaluate(loadModel(saveModel(merged, "merged")), data).loss);
            """);
        double unmerged = Value(run.Out, "loss-unmerged"), merged = Value(run.Out, "loss-merged"), reloaded = Value(run.Out, "loss-reloaded");
        // Within 1e-5 (a merge reorders float sums); rounding both to 5 places would fail across a rounding boundary.
        Assert.Equal(unmerged, merged, 1e-5);
        Assert.Equal(unmerged, reloaded, 1e-5);
        return run;
    }

    private static double Value(string output, string name)
    {
        var line = output.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return double.Parse(line[(name.Length + 1)..].Trim(), CultureInfo.InvariantCulture);
    }

    private static double Loss(string evalOutput) => double.Parse(evalOutput.Split(' ')[1], CultureInfo.InvariantCulture);
}
