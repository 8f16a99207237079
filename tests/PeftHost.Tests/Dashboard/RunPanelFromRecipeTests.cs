using System.Text.RegularExpressions;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Recipes;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>
/// The Run panel fed by a real recipe run (the recipe API, the trainer): progress on every step,
/// not only on logged ones; evaluation and checkpoint phases with their progress; one loss number;
/// the recipe's own <c>table(...)</c> in the results.
/// </summary>
public sealed class RunPanelFromRecipeTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void A_recipe_run_moves_the_run_panel_every_step_names_its_phases_and_shows_its_tables()
    {
        string recipe = _h.Write("recipe.js", """
            import { loadModel, getPeftModel, loadDataset, train, table } from "peft";
            const texts = [
              "Sparky the dragon lived in a big cave and liked to fly.",
              "Sparky the dragon found a red ball and gave it to Lily.",
              "Sparky the dragon baked a sweet cake for his mom.",
              "Sparky the dragon helped a bird fly back to its nest.",
              "Sparky the dragon read a book about the moon.",
            ];
            const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, loraAlpha: 8, targetModules: ["q_proj", "v_proj"] });
            const data = loadDataset(texts, { format: "text", maxLength: 24 });
            const run = train(model, data, { maxSteps: 6, batchSize: 2, logEvery: 4, validation: data, evalEvery: 3, evalBatchSize: 2, checkpointEvery: 3 });
            table([{ model: "LoRA", accuracy: 0.955, f1: 0.9548 }], { title: "spam vs ham" });
            """);
        var events = new EventBus();
        var seen = new List<IHostEvent>();
        using var subscription = events.Subscribe<IHostEvent>(e => { lock (seen) seen.Add(e); });
        var host = new RecipeHostContext { Methods = new PeftHost.Core.Peft.StaticMethodCatalog(new PeftHost.Plugins.Lora.LoraMethod()), Events = events };
        var result = new RecipeRunner().Run(new RecipeRunOptions { RecipePath = recipe, OutputFolder = _h.Output, Workspace = TestPaths.RepoRoot }, host);
        Assert.True(result.Outcome == RecipeOutcome.Succeeded, result.Failure?.ToString());

        var vm = new RunViewModel();
        vm.Apply(new JobStartedEvent(1, JobKind.Recipe, "recipe.js"));
        var progress = new List<string>();
        foreach (var e in seen.ToList())
        {
            vm.Apply(e);
            if (e is TrainingPhaseEvent or TrainingStepEvent) progress.Add(vm.ProgressText);
        }

        // logEvery 4 logs steps 4 and 6; the panel still passes through every step.
        for (int step = 1; step <= 6; step++)
            Assert.Contains(progress, p => p.StartsWith($"training · step {step}/6 ·", StringComparison.Ordinal));
        Assert.Equal(2, seen.OfType<TrainingStepEvent>().Count());
        // Evaluations at steps 3 and 6 show their batches (5 examples in batches of 2: 3 batches).
        // Text validation is scored in windows (as evaluate scores it): the phase counts them to the last.
        Assert.Matches(@"evaluating (\d+)/\1 · step 3/6 · epoch ", string.Join("\n", progress));
        Assert.Contains(progress, p => Regex.IsMatch(p, @"^evaluating 1/\d+ · step 6/6"));
        Assert.Contains(progress, p => p.StartsWith("saving a checkpoint · step 3/6", StringComparison.Ordinal));

        // One loss number: the header's is the chart's last point (the logged mean of steps 5 and 6).
        Assert.Equal(vm.TrainLossSeries[^1].Y, vm.Loss);
        Assert.Equal(seen.OfType<TrainingStepEvent>().Last().Loss, vm.Loss);

        string results = vm.FormatResults();
        Assert.Contains("spam vs ham", results);
        Assert.Contains("LoRA      0.955  0.9548", results);
        Assert.Contains("eval_loss", results);
    }
}
