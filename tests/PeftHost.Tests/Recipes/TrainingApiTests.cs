using PeftHost.Cli.Commands;
using PeftHost.Core.Peft;
using PeftHost.Core.Recipes;
using PeftHost.Core.Telemetry;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>loadDataset, train and evaluate through recipes: handlers, events, errors, cancellation with a checkpoint.</summary>
public sealed class TrainingApiTests : IDisposable
{
    /// <summary>A LoRA model on stories260k and four short texts (shared by the recipe tests of training).</summary>
    internal const string Setup = """
        import { loadModel, getPeftModel, addAdapter, setAdapter, disableAdapter, loadDataset, loadAdapter, saveAdapter, train, evaluate, generate, on, log } from "peft";
        const texts = [
          "Sparky the dragon lived in a big cave and liked to fly.",
          "Sparky the dragon found a red ball and gave it to Lily.",
          "Sparky the dragon baked a sweet cake for his mom.",
          "Sparky the dragon helped a bird fly back to its nest.",
        ];
        const lora = { method: "lora", r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ["q_proj", "v_proj"] };
        const model = getPeftModel(loadModel("models/stories260k"), lora);
        const data = loadDataset(texts, { format: "text", maxLength: 24 });
        """;

    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private (int Code, string Out, string Err) Ok(string body, params string[] extra) => _h.RunOk(Setup + "\n" + body, extra);

    /// <summary>The 1-based line of <paramref name="text"/> in the recipe (Setup included).</summary>
    private static int LineOf(string body, string text) =>
        (Setup + "\n" + body).Split('\n').Select((l, i) => (l, i)).First(x => x.l.Contains(text, StringComparison.Ordinal)).i + 1;

    [Fact]
    public void Train_lowers_the_loss_and_reports_every_handler()
    {
        var run = Ok("""
            const seen = { step: 0, log: 0, evaluate: 0, end: 0, onStep: 0 };
            on("step", () => seen.step++);
            on("log", (e) => { seen.log++; if (e.step === 4) log("log event:", e.step, e.totalSteps, typeof e.loss, typeof e.tokensPerSecond); });
            on("evaluate", (e) => { seen.evaluate++; log("eval metrics:", Object.keys(e.metrics).join(",")); });
            on("end", (e) => { seen.end++; log("end:", e.reason, e.step); });
            const before = evaluate(model, data).loss;
            const result = train(model, data, {
              maxSteps: 8, learningRate: 1e-2, batchSize: 4, logEvery: 4, validation: data, evalEvery: 4,
              onStep: (step) => { seen.onStep++; },
            });
            const after = evaluate(model, data).loss;
            log("result:", result.reason, result.steps, result.totalSteps, result.losses.length, result.evaluations.length);
            log("seen:", JSON.stringify(seen));
            log("lower:", after < before);
            """);
        Assert.Contains("log event: 4 8 number number", run.Out);
        Assert.Contains("eval metrics: eval_loss,eval_perplexity", run.Out);
        Assert.Contains("end: completed 8", run.Out);
        Assert.Contains("result: completed 8 8 8 2", run.Out);
        Assert.Contains("""seen: {"step":8,"log":2,"evaluate":2,"end":1,"onStep":8}""", run.Out);
        Assert.Contains("lower: true", run.Out);
        Assert.True(File.Exists(Path.Combine(_h.Output, "train", "metrics.jsonl")));
        Assert.True(File.Exists(Path.Combine(_h.Output, "train", "loss.png")));
    }

    [Fact]
    public void A_step_handler_can_change_the_learning_rate_and_stop_the_run()
    {
        var run = Ok("""
            const rates = [];
            const result = train(model, data, {
              maxSteps: 20, learningRate: 1e-3, schedule: "constant", batchSize: 4,
              onStep(step) {
                rates.push(step.learningRate);
                if (step.step === 2) step.setLearningRate(5e-3);
                if (step.step === 5) step.stop("enough for a test");
              },
            });
            log("rates:", rates.join(","));
            log("result:", result.reason, result.steps, result.message);
            """);
        Assert.Contains("rates: 0.001,0.001,0.005,0.005,0.005", run.Out);
        Assert.Contains("result: stopped 5 enough for a test", run.Out);
    }

    [Fact]
    public void A_step_handler_can_switch_the_trained_adapter()
    {
        var run = Ok("""
            addAdapter(model, "second", lora);
            setAdapter(model, "default");
            const base = disableAdapter(model, () => evaluate(model, data).loss);
            const trained = [];
            train(model, data, {
              maxSteps: 6, learningRate: 2e-2, schedule: "constant", batchSize: 4,
              onStep(step) { trained.push(step.adapter); if (step.step === 3) step.setAdapter("second"); },
            });
            const lossOf = (name) => { setAdapter(model, name); return evaluate(model, data).loss; };
            log("trained:", trained.join(","));
            log("both lower than the base:", lossOf("default") < base, lossOf("second") < base);
            """);
        Assert.Contains("step 3: training adapter 'second' from now on", run.Err);
        Assert.Contains("trained: default,default,default,second,second,second", run.Out);
        Assert.Contains("both lower than the base: true true", run.Out);
    }

    [Fact]
    public void A_throw_in_a_step_handler_is_reported_at_the_throw_and_stops_the_run()
    {
        string body = """
            let steps = 0;
            function check(step) {
              if (step.step === 3) throw new Error(`bad step ${step.step}`);
            }
            train(model, data, { maxSteps: 50, batchSize: 4, onStep: (step) => { steps++; check(step); } });
            log("never");
            """;
        var run = _h.Run("recipe.js", Setup + "\n" + body);
        string err = RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, "throw new Error"), null, "Error: bad step 3");
        Assert.Contains("at check (", err);
        Assert.DoesNotContain("never", run.Out);
    }

    [Fact]
    public void A_throw_in_a_log_handler_is_reported_at_the_throw()
    {
        string body = """
            train(model, data, { maxSteps: 50, batchSize: 4, logEvery: 2, onLog: (e) => { if (e.step >= 2) null.boom; } });
            """;
        var run = _h.Run("recipe.js", Setup + "\n" + body);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, "null.boom"), null, "TypeError");
    }

    [Fact]
    public void A_mistyped_training_option_is_an_error_with_a_did_you_mean()
    {
        string body = """
            train(model, data, { maxSteps: 5, learnRate: 1e-3 });
            """;
        var run = _h.Run("recipe.js", Setup + "\n" + body);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, "learnRate"), 1, "train: unknown option 'learnRate'; did you mean 'learningRate'?");
    }

    [Fact]
    public void An_out_of_range_training_option_is_named_in_camel_case()
    {
        string body = """
            train(model, data, { maxSteps: 5, batchSize: 0 });
            """;
        var run = _h.Run("recipe.js", Setup + "\n" + body);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, "batchSize: 0"), 1, "train: option 'batchSize' = 0: must be at least 1");
    }

    [Fact]
    public void Training_an_adapter_loaded_frozen_is_an_error_that_says_how_to_load_it()
    {
        string body = """
            const dir = saveAdapter(model, "saved");
            const other = loadAdapter(loadModel("models/stories260k"), dir);
            train(other, data, { maxSteps: 2 });
            """;
        var run = _h.Run("recipe.js", Setup + "\n" + body);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, "train(other"), 1, "isTrainable: true");
    }

    [Fact]
    public void Cancelling_during_training_stops_at_a_step_boundary_with_a_checkpoint_and_exit_130()
    {
        string body = """
            train(model, data, {
              maxSteps: 100000, batchSize: 4, logEvery: 1,
              onStep(step) { if (step.step === 2) log("ready"); },
            });
            log("never");
            """;
        var run = _h.RunCancelledAt("recipe.js", Setup + "\n" + body, "ready");
        string err = RecipeAssert.FailsAt(run, RunCommand.Cancelled, "recipe.js", LineOf(body, "train(model"), 1, "train: cancelled at step ");
        Assert.Contains("checkpoint written to", err);
        Assert.DoesNotContain("never", run.Out);
        var checkpoints = Directory.GetDirectories(Path.Combine(_h.Output, "train", "checkpoints"));
        Assert.NotEmpty(checkpoints);
    }

    [Fact]
    public void Datasets_load_from_files_split_and_infer_their_format()
    {
        _h.Write("data/alpaca.jsonl", string.Join("\n", Enumerable.Range(0, 10).Select(i =>
            $$"""{"instruction": "Say the number {{i}}.", "input": "", "output": "{{i}}"}""")));
        var run = Ok("""
            const alpaca = loadDataset("./data/alpaca.jsonl", { maxLength: 160, limit: 8 });
            log("alpaca:", alpaca.kind, alpaca.format, alpaca.size);
            const { train: t, validation: v } = alpaca.split(0.25, { seed: 3 });
            log("split:", t.size, v.size);
            const r = train(model, t, { maxSteps: 2, batchSize: 2, validation: v });
            log("evaluated:", r.evaluations.length > 0);
            """);
        Assert.Contains("alpaca: dataset instruction 8", run.Out);
        Assert.Contains("split: 6 2", run.Out);
        Assert.Contains("evaluated: true", run.Out);
    }

    [Fact]
    public void A_dataset_missing_the_fields_its_format_needs_is_an_error_at_loadDataset()
    {
        string body = """
            loadDataset([{ question: "a", answer: "b" }], { format: "instruction" });
            """;
        var run = _h.Run("recipe.js", Setup + "\n" + body);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", LineOf(body, "question"), 1, "instruction data needs a 'prompt' field (has: question, answer)");
    }

    [Fact]
    public void Classification_datasets_evaluate_accuracy_and_f1()
    {
        var run = Ok("""
            const reviews = loadDataset([
              { text: "great fun", label: "good" }, { text: "awful mess", label: "bad" },
              { text: "lovely day", label: "good" }, { text: "sad and bad", label: "bad" },
            ], { format: "classification", template: "{text}\nReview:", maxLength: 32 });
            const m = evaluate(model, reviews, { positiveLabel: "good" });
            log("metrics:", ["loss", "accuracy", "macro_f1", "precision", "recall", "f1", "good_f1"].every((k) => typeof m[k] === "number"));
            log("accuracy in range:", m.accuracy >= 0 && m.accuracy <= 1);
            """);
        Assert.Contains("metrics: true", run.Out);
        Assert.Contains("accuracy in range: true", run.Out);
    }

    [Fact]
    public void The_host_gets_every_step_boundary_on_the_job_thread_and_a_reload_rebinds_the_trained_parameters()
    {
        var threads = new List<int>();
        var logs = new List<string>();
        var events = new EventBus();
        using var _ = events.Subscribe<LogEvent>(e => { lock (logs) logs.Add(e.Message); });
        var host = new RecipeHostContext
        {
            Methods = new StaticMethodCatalog(new PeftHost.Plugins.Lora.LoraMethod()),
            Events = events,
            // Pretend a plugin was reloaded at the second boundary: the run must go on with the (re-bound) parameters.
            AtStepBoundary = () => { threads.Add(Environment.CurrentManagedThreadId); return threads.Count == 2; },
        };
        string recipe = _h.Write("recipe.js", Setup + """

            let scriptThreadSteps = 0;
            const r = train(model, data, { maxSteps: 4, batchSize: 4, onStep: () => { scriptThreadSteps++; } });
            log("steps:", r.steps, scriptThreadSteps);
            """);
        var result = new RecipeRunner().Run(new RecipeRunOptions { RecipePath = recipe, OutputFolder = _h.Output, Workspace = TestPaths.RepoRoot }, host);
        Assert.True(result.Outcome == RecipeOutcome.Succeeded, result.Failure?.ToString());
        Assert.Equal(4, threads.Count);
        Assert.Single(threads.Distinct());
        Assert.Contains("steps: 4 4", logs);
    }

    [Fact]
    public void Training_progress_is_shown_as_plain_lines_when_not_on_a_terminal()
    {
        var run = Ok("""
            train(model, data, { maxSteps: 4, batchSize: 4, logEvery: 2 });
            """);
        Assert.Matches(@"train step 2/4 loss \d+\.\d{4} [\d,]+ tok/s ETA \d+:\d\d:\d\d", run.Err);
        Assert.Matches(@"train step 4/4 loss \d+\.\d{4} [\d,]+ tok/s\r?\n", run.Err);
        Assert.Contains("training completed at step 4/4", run.Err);
    }
}
