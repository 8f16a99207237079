namespace PeftHost.Tests.Recipes;

/// <summary>
/// <c>peft run x.js &gt; results.txt</c> captures results only: the recipe's <c>log</c>, <c>table</c> and <c>console.log</c>
/// lines on stdout; progress, evaluation and checkpoint lines, <c>[peft]</c> notices, warnings and the closing line on stderr.
/// </summary>
public sealed class RunStreamsTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Stdout_holds_the_recipe_results_and_everything_else_goes_to_stderr()
    {
        var run = _h.RunOk("""
            import { loadModel, getPeftModel, loadDataset, saveAdapter, train, log, table } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, targetModules: ["q_proj", "v_proj"] });
            const data = loadDataset(["Sparky the dragon liked to fly.", "Lily found a red ball."], { format: "text", maxLength: 16 });
            const result = train(model, data, { maxSteps: 2, batchSize: 2, logEvery: 1, validation: data, evalEvery: 1, checkpointEvery: 1 });
            saveAdapter(model, "adapter");
            console.warn("a warning");
            log("steps", result.steps);
            table([{ metric: "steps", value: result.steps }]);
            console.log("the end");
            """);
        string[] stdout = run.Out.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal("steps 2", stdout[0]);
        Assert.Contains(stdout, l => l.Contains("metric") && l.Contains("value"));
        Assert.Equal("the end", stdout[^1]);
        Assert.All(stdout, l => Assert.DoesNotMatch(@"^(\[|warning|train |eval @|checkpoint @|done:)", l));

        string stderr = run.Err;
        Assert.Contains("[peft] loaded stories260k", stderr);
        Assert.Matches(@"train step 2/2 loss \d", stderr);
        Assert.Contains("eval @ step 1: eval_loss", stderr);
        Assert.Contains("checkpoint @ step 2:", stderr);
        Assert.Contains("[peft] training completed at step 2/2", stderr);
        Assert.Contains("[peft] saved adapter default to", stderr);
        Assert.Contains("warning: a warning", stderr);
        Assert.Contains("done: outputs in", stderr);
        Assert.DoesNotContain("the end", stderr);
    }
}
