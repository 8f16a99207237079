using PeftHost.Cli.Commands;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>
/// What the recipe API reports, driven as a recipe drives it: spent PEFT handles, best metrics, default names,
/// the meta device, retention over a whole text, and non-finite results as errors.
/// </summary>
public sealed class ApiResultTests : IDisposable
{
    private const string Setup = """
        import { loadModel, getPeftModel, loadDataset, train, evaluate, generate, retention, mergeAndUnload, saveAdapter, plot, log } from "peft";
        const lora = { method: "lora", r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ["q_proj", "v_proj"], initLoraWeights: false };
        const texts = [
          "Sparky the dragon lived in a big cave and liked to fly.",
          "Sparky the dragon found a red ball and gave it to Lily.",
          "Sparky the dragon baked a sweet cake for his mom.",
          "Sparky the dragon helped a bird fly back to its nest.",
        ];
        const data = loadDataset(texts, { format: "text", maxLength: 24 });
        """;

    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private (int Code, string Out, string Err) Run(string body) => _h.Run("recipe.js", Setup + "\n" + body);

    private (int Code, string Out, string Err) Ok(string body) => _h.RunOk(Setup + "\n" + body);

    private static int LineOf(string body, string text) =>
        (Setup + "\n" + body).Split('\n').Select((l, i) => (l, i)).First(x => x.l.Contains(text, StringComparison.Ordinal)).i + 1;

    [Theory]
    [InlineData("generate(model, \"Once\", { maxNewTokens: 4 });", "generate")]
    [InlineData("evaluate(model, data);", "evaluate")]
    [InlineData("saveAdapter(model, \"after\");", "saveAdapter")]
    [InlineData("train(model, data, { maxSteps: 1 });", "train")]
    public void After_mergeAndUnload_the_peft_handle_is_refused_and_the_returned_model_goes_on(string use, string function)
    {
        string body = $$"""
            const model = getPeftModel(loadModel("models/stories260k"), lora);
            const merged = mergeAndUnload(model);
            log("merged generates:", generate(merged, "Once", { maxNewTokens: 4 }).length > 0);
            {{use}}
            """;
        var run = Run(body);
        Assert.Contains("merged generates: true", run.Out);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, use), 1,
            $"{function}: model is a PEFT model that mergeAndUnload merged and unloaded; use the model that mergeAndUnload returned");
    }

    [Fact]
    public void Best_metric_and_step_are_reported_whenever_validation_ran()
    {
        var run = Ok("""
            const model = getPeftModel(loadModel("models/stories260k"), lora);
            const r = train(model, data, { maxSteps: 3, batchSize: 2, learningRate: 1e-2, validation: data, evalEvery: 1 });
            const losses = r.evaluations.map(e => e.metrics.eval_loss);
            const best = Math.min(...losses);
            log("best:", r.bestMetric === best, r.bestStep === r.evaluations[losses.indexOf(best)].step, typeof r.bestStep);
            const none = train(model, data, { maxSteps: 1, batchSize: 2 });
            log("without validation:", none.bestMetric, none.bestStep);
            """);
        Assert.Contains("best: true true number", run.Out);
        Assert.Contains("without validation: null null", run.Out);
    }

    [Fact]
    public void Patience_running_out_at_the_last_step_completes_the_run()
    {
        var run = Ok("""
            const model = getPeftModel(loadModel("models/stories260k"), lora);
            const atEnd = train(model, data, { maxSteps: 2, batchSize: 2, validation: data, evalEvery: 1, earlyStopping: { patience: 1, minDelta: 1e9 } });
            log("at the end:", atEnd.reason, atEnd.steps);
            const before = train(model, data, { maxSteps: 3, batchSize: 2, validation: data, evalEvery: 1, earlyStopping: { patience: 1, minDelta: 1e9 } });
            log("before the end:", before.reason, before.steps);
            """);
        Assert.Contains("at the end: completed 2", run.Out);
        Assert.Contains("before the end: early-stopped 2", run.Out);
    }

    [Fact]
    public void Default_names_are_numbered_among_the_calls_that_take_them()
    {
        var run = Ok("""
            const model = getPeftModel(loadModel("models/stories260k"), lora);
            train(model, data, { maxSteps: 1, batchSize: 2, outputDir: "mine" });
            const r = train(model, data, { maxSteps: 1, batchSize: 2 });
            log("train:", r.outputDir.split("/").pop());
            const p1 = plot([1, 2, 3]);
            plot([1, 2, 3], { file: "named.png" });
            const p2 = plot([3, 2, 1]);
            log("plots:", p1.split("/").pop(), p2.split("/").pop());
            """);
        Assert.Contains("train: train", run.Out);
        Assert.Contains("plots: plot.png plot-2.png", run.Out);
        Assert.False(File.Exists(Path.Combine(_h.Output, "plot-3.png")));
    }

    [Theory]
    [InlineData("evaluate(model, data);")]
    [InlineData("generate(model, \"Once\", { maxNewTokens: 4 });")]
    public void A_model_on_the_meta_device_is_refused_in_one_line(string use)
    {
        string body = $$"""
            const model = loadModel("models/stories260k", { device: "meta" });
            {{use}}
            """;
        var run = Run(body);
        string err = RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, use), 1,
            "the model is on the meta device, which holds shapes but no weights; load it on cpu or cuda to run it");
        Assert.True(err.Trim().Split('\n').Length <= 3, err);
        Assert.DoesNotContain("Exception", err);
    }

    [Fact]
    public void Retention_scores_the_whole_text()
    {
        string text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "data", "moby-dick.txt"))[..16_000];
        _h.Write("long.txt", text);
        var run = Ok("""
            const model = getPeftModel(loadModel("models/stories260k"), lora);
            const r = retention(model, "./long.txt");
            log("tokens:", r.tokens, Number.isFinite(r.perplexity), r.meanKl > 0);
            """);
        int n = TokenizerLoader.Load(TestPaths.Stories260k).Encode(text.ReplaceLineEndings("\n"), addBos: false).Count;
        Assert.True(n > 4096, $"the text must be longer than the old 4096-token cap: {n}");
        long expected = n / 256 * 255L + (n % 256 >= 2 ? n % 256 - 1 : 0);
        Assert.Contains($"tokens: {expected} true true", run.Out);
    }

    [Fact]
    public void Evaluate_scores_every_token_of_a_long_text_in_strided_windows()
    {
        string text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "data", "moby-dick.txt"))[..6_000].ReplaceLineEndings("\n");
        string noise = string.Concat(Enumerable.Repeat("zq xv kj wp ", 200));
        var run = Ok($$"""
            const model = loadModel("models/stories260k");
            const text = {{System.Text.Json.Nodes.JsonValue.Create(text).ToJsonString()}};
            const whole = (t, packing) => loadDataset([t], { format: "text", maxLength: 64, packing });
            const packed = evaluate(model, whole(text, true)), single = evaluate(model, whole(text, false));
            log("packed:", packed.tokens, packed.loss);
            log("single:", single.tokens, single.loss);
            const noisy = evaluate(model, whole(text + {{System.Text.Json.Nodes.JsonValue.Create(noise).ToJsonString()}}, false));
            log("noise counts:", noisy.tokens > single.tokens, noisy.loss > single.loss);
            const apart = evaluate(model, whole(text, false), { stride: 64 });
            // Each window's first token has nothing before it in the window and is not scored; the rest see less context.
            log("non-overlapping:", apart.tokens < single.tokens, apart.loss > single.loss);
            """);
        // BOS + the text + EOS, every token after the first predicted once.
        int n = TokenizerLoader.Load(TestPaths.Stories260k).Encode(text, addBos: true).Count + 1;
        Assert.True(n > 64 * 10, $"the text must span many windows: {n} tokens");
        string Line(string name) => run.Out.Split('\n').Single(l => l.StartsWith(name, StringComparison.Ordinal));
        Assert.StartsWith($"packed: {n - 1} ", Line("packed:"));
        Assert.Equal(Line("packed:")["packed:".Length..], Line("single:")["single:".Length..]);
        Assert.Contains("noise counts: true true", run.Out);
        Assert.Contains("non-overlapping: true true", run.Out);
    }

    [Fact]
    public void A_checkpoint_with_a_negative_peak_learning_rate_is_refused_on_resume()
    {
        Ok("""
            const model = getPeftModel(loadModel("models/stories260k"), lora);
            train(model, data, { maxSteps: 1, batchSize: 2, checkpointEvery: 1, outputDir: "run" });
            """);
        string state = Path.Combine(_h.Output, "run", "checkpoints", "checkpoint-1", "trainer_state.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(state))!.AsObject();
        json["peak_learning_rate"] = -0.001;
        File.WriteAllText(state, json.ToJsonString());
        string body = """
            const model = getPeftModel(loadModel("models/stories260k"), lora);
            train(model, data, { maxSteps: 2, batchSize: 2, checkpointEvery: 1, outputDir: "run", resumeFrom: "latest" });
            """;
        var run = Run(body);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, "resumeFrom"), 1,
            $"{state}: 'peak_learning_rate' must be a finite number ≥ 0, got -0.001");
    }

    /// <summary>A huge learning rate: the first update leaves huge weights, with which every forward pass is NaN.</summary>
    [Fact]
    public void After_a_caught_divergence_results_are_errors_not_numbers()
    {
        var run = Ok("""
            const model = getPeftModel(loadModel("models/stories260k"), lora);
            try { train(model, data, { maxSteps: 20, batchSize: 2, learningRate: 1e30, warmupSteps: 0, maxGradNorm: 0 }); log("train: returned"); }
            catch (e) { log("train: diverged"); }
            for (const [name, f] of [["evaluate", () => evaluate(model, data)],
                                     ["generate", () => generate(model, "Once", { maxNewTokens: 4 })]]) {
              try { log(name + ": returned", JSON.stringify(f())); } catch (e) { log(name + ": refused:", e.message); }
            }
            """);
        foreach (var line in new[] { "train: diverged", "evaluate: refused: ", "generate: refused: ", "NaN" })
            Assert.True(run.Out.Contains(line, StringComparison.Ordinal), $"'{line}' missing from:\n{run.Out}");
    }
}
