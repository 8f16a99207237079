using System.Text.RegularExpressions;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard.EndToEnd;

/// <summary>
/// <c>peft tui</c> in a real terminal (tmux, 80×24), driven with <c>send-keys</c> and read with
/// <c>capture-pane</c>: a training recipe run from the Recipes panel to a finished run, Ctrl-C
/// stopping a run with a checkpoint, every panel laid out whole, keys, help, quit, NO_COLOR and
/// resizing. The captures become the docs' screenshots when <c>PEFTHOST_SCREENSHOTS</c> is set.
/// </summary>
[Collection(DashboardEndToEndCollection.Name)]
public sealed partial class DashboardEndToEndTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan KeyTimeout = TimeSpan.FromSeconds(30);
    private readonly TempDir _dir = new();

    /// <summary>A short LoRA run on the bundled model, with evaluations and a saved adapter.</summary>
    private const string TinyTrain = """
        // Trains a tiny LoRA adapter on the bundled model, evaluating as it goes.
        import { defineParams, loadModel, getPeftModel, printTrainableParameters, loadDataset, train, saveAdapter } from "peft";

        const p = defineParams({
          steps: 24,          // optimizer steps
          learningRate: 5e-3, // peak learning rate
          r: 4,               // LoRA rank
        });

        const model = getPeftModel(loadModel("models/stories260k"), {
          method: "lora", r: p.r, loraAlpha: 2 * p.r, targetModules: ["q_proj", "v_proj"],
        });
        printTrainableParameters(model);

        const data = loadDataset([
          "The moon was a big cookie. Every night the kids took a bite of the moon cookie.",
          "Tom looked at the moon cookie and smiled. The moon cookie was sweet and round.",
          "At night the moon cookie came out. The kids said: good night, moon cookie!",
          "Lily saw the moon cookie in the sky. She wanted to taste the moon cookie too.",
          "The moon cookie was small today. The kids had eaten half of the moon cookie.",
          "Ben told his dog about the moon cookie. The dog barked at the moon cookie.",
        ], { format: "text", maxLength: 32 });
        const { train: trainSet, validation } = data.split(0.34, { seed: 1 });

        train(model, trainSet, { maxSteps: p.steps, learningRate: p.learningRate, batchSize: 2, logEvery: 1, validation, evalEvery: 6 });
        saveAdapter(model, "adapter");
        """;

    private static string Peft => Path.Combine(AppContext.BaseDirectory, "peft");

    private string Runs => _dir["runs"];

    private string Start(string extra = "")
    {
        string recipes = _dir["recipes"];
        Directory.CreateDirectory(recipes);
        File.WriteAllText(Path.Combine(recipes, "tiny-train.js"), TinyTrain);
        // Started in the temp folder, so the form's command line reads "peft run recipes/tiny-train.js …".
        return $"'{Peft}' tui --workspace '{TestPaths.RepoRoot}' --recipes recipes --runs runs {extra}";
    }

    private void Shot(Tmux tmux, string name, string panelTitle)
    {
        var screen = tmux.CaptureSettledScreen(out string raw);
        DashboardScreens.AssertLayout(screen, panelTitle);
        DashboardScreens.Save(name, screen, raw, _dir["screens"]);
    }

    [TmuxFact]
    public void A_recipe_runs_from_the_Recipes_panel_to_a_finished_run_and_its_adapter_answers_in_the_playground()
    {
        using var tmux = Tmux.Start(Start(), 80, 24, _dir.Path);
        tmux.WaitFor(s => s.Contains("tiny-train.js", StringComparison.Ordinal) && s.Contains("load model", StringComparison.Ordinal) && s.Contains("succeeded", StringComparison.Ordinal),
            StartTimeout, "the Recipes panel and the loaded model");

        // The form comes from the recipe's defineParams; Tab, Tab reaches its first field (list → source → steps).
        string recipes = tmux.Capture();
        Assert.Matches(@"steps\s+24", recipes);
        Assert.Matches(@"learningRate\s+5e-3", recipes);
        tmux.SendKeys("Tab");
        tmux.SendKeys("Tab");
        tmux.Type("30");
        tmux.WaitForText("--set steps=30", KeyTimeout);
        Shot(tmux, "recipes", "Recipes");

        // F5 runs it on the job thread; the Run panel follows the training.
        tmux.SendKeys("F5");
        tmux.WaitFor(s => StepOf30().IsMatch(s), RunTimeout, "training progress (step N/30)");
        // The status line and the log line are drawn in separate frames: wait for both.
        string finished = tmux.WaitFor(s => s.Contains("✓ finished tiny-train.js", StringComparison.Ordinal) && s.Contains("tiny-train.js: succeeded", StringComparison.Ordinal),
            RunTimeout, "the finished run and its log line");
        Assert.Contains("┤Run├", finished);
        Assert.Contains("step 30/30", finished);
        Assert.Contains("100%", finished);
        Assert.Matches(@"loss \d+\.\d{4} · eval \d+\.\d{4} · lr \S+ · grad \d+\.\d{4} · [\d,]+ tok/s", finished);
        Assert.Matches(@"RSS [\d.]+ MiB · tensors [\d.]+ MiB · trainable [\d,]+ of [\d,]+ \([\d.]+%\)", finished);
        Assert.Contains("train loss:", finished);
        Assert.Contains("eval loss:", finished);
        Assert.Matches(@"[\u2801-\u28FF]", finished); // the charts' Braille dots
        Assert.Contains("step  eval_loss  eval_perplexity", finished);
        Assert.Matches(@"\s30\s+\d+\.\d{4}\s+\d+\.\d{4}", finished); // the last evaluation's row
        Assert.Contains("tiny-train.js: succeeded", finished);
        Shot(tmux, "run", "Run");
        string output = Assert.Single(Directory.GetDirectories(Runs));
        Assert.True(File.Exists(Path.Combine(output, "adapter", "adapter_config.json")), "the recipe's adapter was not saved");

        // The Adapters panel offers the run's adapter; l loads it onto the dashboard's model.
        tmux.SendKeys("4");
        tmux.WaitForText("┤Adapters├", KeyTimeout);
        tmux.SendKeys("l");
        tmux.WaitFor(s => s.Contains("* default", StringComparison.Ordinal) && s.Contains("lora (LORA)", StringComparison.Ordinal), KeyTimeout, "the loaded adapter");
        Shot(tmux, "adapters", "Adapters");

        // The Playground answers with the adapter and with the base model, side by side.
        tmux.SendKeys("5");
        tmux.WaitForText("┤with adapter 'default'├", KeyTimeout);
        tmux.SendKeys("Enter");
        tmux.WaitFor(s => DoneTokens().IsMatch(s), RunTimeout, "both answers");
        Shot(tmux, "playground", "Playground");

        tmux.SendKeys("F6");
        tmux.WaitFor(s => s.Contains("┤Log├", StringComparison.Ordinal) && s.Contains("generation #1 done", StringComparison.Ordinal), KeyTimeout, "the Log panel");
        Shot(tmux, "log", "Log");
        tmux.SendKeys("1");
        tmux.WaitForText("┤Plugins├", KeyTimeout);
        Shot(tmux, "plugins", "Plugins");

        tmux.SendKeys("q");
        tmux.WaitForText("[exited 0]", KeyTimeout);
    }

    [TmuxFact]
    public void Ctrl_c_stops_a_run_at_a_step_boundary_with_a_checkpoint()
    {
        using var tmux = Tmux.Start(Start("--no-model"), 80, 24, _dir.Path);
        tmux.WaitForText("tiny-train.js", StartTimeout);
        tmux.SendKeys("Tab");
        tmux.SendKeys("Tab");
        tmux.Type("5000");
        tmux.WaitForText("--set steps=5000", KeyTimeout);
        tmux.SendKeys("F5");
        tmux.WaitFor(s => Regex.IsMatch(s, @"step [1-9]\d*/5000"), RunTimeout, "training progress");
        tmux.SendKeys("C-c");
        // The status line and the log line are drawn by separate events: wait for both.
        string stopped = tmux.WaitFor(s => s.Contains("■ stopped tiny-train.js at step", StringComparison.Ordinal)
            && s.Contains("tiny-train.js: cancelled", StringComparison.Ordinal), RunTimeout, "the stopped status and its log line");
        var m = Regex.Match(stopped, @"■ stopped tiny-train\.js at step (\d+), checkpoint (checkpoint-\d+)");
        Assert.True(m.Success, stopped);
        Assert.Contains("tiny-train.js: cancelled", stopped);
        string output = Assert.Single(Directory.GetDirectories(Runs));
        var checkpoints = Directory.GetDirectories(output, "checkpoint-*", SearchOption.AllDirectories);
        Assert.Contains(checkpoints, c => Path.GetFileName(c) == m.Groups[2].Value);
        DashboardScreens.AssertLayout(tmux.CaptureScreen(out _), "Run");
        tmux.SendKeys("q");
        tmux.WaitForText("[exited 0]", KeyTimeout);
    }

    [TmuxFact]
    public void Every_panel_fits_80x24_with_its_title_and_the_status_bar_and_keys_behave()
    {
        using var tmux = Tmux.Start(Start(), 80, 24, _dir.Path);
        tmux.WaitFor(s => s.Contains("tiny-train.js", StringComparison.Ordinal) && s.Contains("load model", StringComparison.Ordinal), StartTimeout, "the Recipes panel and the model");

        var panels = new (string Key, string Title, string Expect)[]
        {
            ("1", "Plugins", "method lora"),
            ("2", "Recipes", "$ peft run"),
            ("3", "Run", "no run yet"),
            ("4", "Adapters", "stories260k"),
            ("6", "Log", "level ≥ INFO"),
            ("5", "Playground", "Prompt:"),
        };
        foreach (var (key, title, expect) in panels)
        {
            tmux.SendKeys(key);
            tmux.WaitFor(s => s.Contains($"┤{title}├", StringComparison.Ordinal) && s.Contains(expect, StringComparison.Ordinal), KeyTimeout, $"the {title} panel");
            DashboardScreens.AssertLayout(tmux.CaptureScreen(out _), title);
        }

        // Showing the Playground focuses Send; Shift-Tab (from Send: temperature, tokens, prompt) reaches the prompt box,
        // where letters and digits are text and F-keys still act.
        tmux.SendKeys("BTab", "BTab", "BTab");
        tmux.Type("q1");
        tmux.WaitFor(s => Regex.IsMatch(s, @"Prompt: \S*q1"), KeyTimeout, "q1 typed into the prompt box");
        tmux.SendKeys("F1");
        tmux.WaitForText("┤Help", KeyTimeout);
        Shot(tmux, "help", "Playground");
        tmux.SendKeys("Escape");
        tmux.WaitFor(s => !s.Contains("┤Help", StringComparison.Ordinal), KeyTimeout, "help to close");
        tmux.SendKeys("Escape"); // without help showing, Esc does nothing (Terminal.Gui's default would quit)
        tmux.SendKeys("M-3");    // Alt-digit switches panels even while typing
        tmux.WaitForText("┤Run├", KeyTimeout);
        tmux.SendKeys("F6");     // next panel: Adapters, where no text field has focus
        tmux.WaitForText("┤Adapters├", KeyTimeout);
        tmux.SendKeys("C-c");    // nothing to stop
        tmux.WaitForText("nothing is running", KeyTimeout);
        tmux.SendKeys("q");
        tmux.WaitForText("[exited 0]", KeyTimeout);
    }

    [TmuxFact]
    public void Panel_digits_switch_panels_and_never_edit_a_field_and_focus_lands_on_each_panels_main_action()
    {
        using var tmux = Tmux.Start(Start("--no-model"), 80, 24, _dir.Path);
        tmux.WaitForText("tiny-train.js", StartTimeout);

        // A form edit in Recipes; away and back, the recipe list has focus again, not the edited field.
        tmux.SendKeys("Tab");
        tmux.SendKeys("Tab");
        tmux.Type("30");
        tmux.WaitForText("--set steps=30", KeyTimeout);
        tmux.SendKeys("F6");
        tmux.WaitForText("┤Run├", KeyTimeout);
        tmux.SendKeys("2");
        tmux.WaitForText("┤Recipes├", KeyTimeout);
        // Playground then Run by digits: neither digit lands in the prompt box or a form field.
        tmux.SendKeys("5");
        tmux.WaitForText("┤Playground├", KeyTimeout);
        tmux.SendKeys("3");
        tmux.WaitForText("┤Run├", KeyTimeout);
        tmux.SendKeys("5");
        // The title and the panel's body may come in separate frames: wait for both.
        string playground = tmux.WaitFor(s => s.Contains("┤Playground├", StringComparison.Ordinal) && s.Contains("Prompt:", StringComparison.Ordinal), KeyTimeout, "the Playground");
        Assert.Contains("Prompt: Once upon a time", playground);
        tmux.SendKeys("2");
        string recipes = tmux.WaitFor(s => s.Contains("┤Recipes├", StringComparison.Ordinal) && s.Contains("$ peft run", StringComparison.Ordinal), KeyTimeout, "the Recipes form");
        Assert.Contains("--set steps=30", recipes);
        Assert.DoesNotContain("steps=3023", recipes);

        // Adapters: Up on the list keeps focus in it, so l is the load action (here refused: no folder), not text.
        tmux.SendKeys("4");
        tmux.WaitForText("┤Adapters├", KeyTimeout);
        tmux.SendKeys("Up");
        tmux.SendKeys("l");
        tmux.WaitForText("give an adapter folder", KeyTimeout);
        Assert.DoesNotMatch(@"Load from\s+l\b", tmux.Capture());
        tmux.SendKeys("q");
        tmux.WaitForText("[exited 0]", KeyTimeout);
    }

    [TmuxFact]
    public void No_color_draws_without_colours_and_a_resize_relays_the_screen()
    {
        using var tmux = Tmux.Start(Start("--no-model"), 80, 24, _dir.Path, new Dictionary<string, string> { ["NO_COLOR"] = "1" });
        tmux.WaitForText("tiny-train.js", StartTimeout);
        var screen = tmux.CaptureSettledScreen(out string raw);
        Assert.False(screen.HasColor, "NO_COLOR screen has colours:\n" + raw);
        int recipesTab = screen.Row(0).IndexOf("2 Recipes", StringComparison.Ordinal);
        Assert.True(screen.Cells[0, recipesTab].Reverse, "the current tab is not in reverse video");
        Assert.False(screen.Cells[0, screen.Row(0).IndexOf("3 Run", StringComparison.Ordinal)].Reverse);
        DashboardScreens.AssertLayout(screen, "Recipes");
        DashboardScreens.Save("recipes-no-color", screen, raw, _dir["screens"]);

        tmux.Resize(100, 30);
        tmux.WaitFor(s => FrameWidth(s) == 100, KeyTimeout, "the frame to widen to 100 columns");
        DashboardScreens.AssertLayout(tmux.CaptureSettledScreen(out _, 100, 30), "Recipes");
        tmux.Resize(80, 24);
        tmux.WaitFor(s => FrameWidth(s) == 80, KeyTimeout, "the frame to narrow to 80 columns");
        DashboardScreens.AssertLayout(tmux.CaptureSettledScreen(out _, 80, 24), "Recipes");
        tmux.SendKeys("C-q");
        tmux.WaitForText("[exited 0]", KeyTimeout);
    }

    /// <summary>The width of the panel frame drawn on row 1 (from ╭ to ╮), or -1 while it is not whole.</summary>
    private static int FrameWidth(string screen)
    {
        string row = screen.Split('\n')[1].TrimEnd();
        return row.StartsWith('╭') && row.EndsWith('╮') ? row.Length : -1;
    }

    [GeneratedRegex(@"step [1-9]\d*/30")]
    private static partial Regex StepOf30();

    [GeneratedRegex(@"done: \d+ tokens")]
    private static partial Regex DoneTokens();

    public void Dispose() => _dir.Dispose();
}

/// <summary>The end-to-end tests run one at a time: each starts a dashboard process.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DashboardEndToEndCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Dashboard end-to-end";
}
