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
        import { defineParams, loadModel, getPeftModel, printTrainableParameters, loadDataset, train, saveAdapter, table } from "peft";

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

        const run = train(model, trainSet, { maxSteps: p.steps, learningRate: p.learningRate, batchSize: 2, logEvery: 1, validation, evalEvery: 6 });
        saveAdapter(model, "adapter");
        table([{ adapter: "moon cookie", steps: run.steps }], { title: "tiny results" });
        """;

    /// <summary>A second recipe, listed after tiny-train.js, with a parameter form of its own.</summary>
    private const string Other = """
        // Another recipe: only here to move the selection to.
        import { defineParams, log } from "peft";
        const p = defineParams({ words: 3 });
        log(p.words);
        """;

    private static string Peft => Path.Combine(AppContext.BaseDirectory, "peft");

    private string Runs => _dir["runs"];

    private string Start(string extra = "", string? workspace = null)
    {
        string recipes = _dir["recipes"];
        Directory.CreateDirectory(recipes);
        File.WriteAllText(Path.Combine(recipes, "tiny-train.js"), TinyTrain);
        File.WriteAllText(Path.Combine(recipes, "zz-other.js"), Other);
        // Started in the temp folder, so the form's command line reads "peft run recipes/tiny-train.js …".
        return $"'{Peft}' tui --workspace '{workspace ?? TestPaths.RepoRoot}' --recipes recipes --runs runs {extra}";
    }

    private void Shot(Tmux tmux, string name, string panelTitle)
    {
        var screen = tmux.CaptureSettledScreen(out string raw);
        DashboardScreens.AssertLayout(screen, panelTitle);
        DashboardScreens.Save(name, screen, raw, _dir["screens"]);
    }

    /// <summary>
    /// From the Recipes panel as started (the list focused on tiny-train.js): Tab, Tab reaches the
    /// form's first field (list → source → steps), <paramref name="steps"/> is typed, F5 runs, and
    /// the Run panel's progress shows; returns that screen.
    /// </summary>
    private static string StartRun(Tmux tmux, int steps, Action? beforeRun = null)
    {
        tmux.SendKeys("Tab");
        tmux.SendKeys("Tab");
        tmux.Type(steps.ToString(System.Globalization.CultureInfo.InvariantCulture));
        tmux.WaitForText($"--set steps={steps}", KeyTimeout);
        beforeRun?.Invoke();
        tmux.SendKeys("F5");
        return tmux.WaitFor(s => Regex.IsMatch(s, $@"training · step [1-9]\d*/{steps}"), RunTimeout, $"training progress (step N/{steps})");
    }

    [TmuxFact]
    public void A_recipe_runs_from_the_Recipes_panel_to_a_finished_run_and_its_adapter_answers_in_the_playground()
    {
        using var tmux = Tmux.Start(Start(), 80, 24, _dir.Path);
        tmux.WaitFor(s => s.Contains("tiny-train.js", StringComparison.Ordinal) && s.Contains("load model", StringComparison.Ordinal) && s.Contains("succeeded", StringComparison.Ordinal),
            StartTimeout, "the Recipes panel and the loaded model");

        // The form comes from the recipe's defineParams; F5 runs it on the job thread and the Run panel follows the training.
        string recipes = tmux.Capture();
        Assert.Matches(@"steps\s+24", recipes);
        Assert.Matches(@"learningRate\s+5e-3", recipes);
        StartRun(tmux, 30, () => Shot(tmux, "recipes", "Recipes"));
        // The status line and the message line are drawn in separate frames: wait for both.
        string finished = tmux.WaitFor(s => s.Contains("✓ finished tiny-train.js", StringComparison.Ordinal) && s.Contains("✓ succeeded: tiny-train.js", StringComparison.Ordinal),
            RunTimeout, "the finished run and its message line");
        Assert.Contains("┤Run├", finished);
        Assert.Contains("step 30/30", finished);
        Assert.Contains("100%", finished);
        Assert.Matches(@"loss \d+\.\d{4} · eval \d+\.\d{4} · lr \S+ · grad \d+\.\d{4} · [\d,]+ tok/s", finished);
        Assert.Matches(@"RSS [\d.]+ MiB · tensors [\d.]+ MiB · trainable [\d,]+ of [\d,]+ \([\d.]+%\)", finished);
        Assert.Contains("train loss:", finished);
        Assert.Contains("eval loss:", finished);
        Assert.Matches(@"[\u2801-\u28FF]", finished); // the charts' Braille dots
        // The results end with the recipe's own table; PageUp scrolls back to the evaluations, Home to their header.
        Assert.Contains("tiny results", finished);
        Assert.Matches(@"moon cookie\s+30", finished);
        Shot(tmux, "run", "Run");
        tmux.SendKeys("PageUp");
        tmux.WaitFor(s => Regex.IsMatch(s, @"\s30\s+\d+\.\d{4}\s+\d+\.\d{4}"), KeyTimeout, "the last evaluation's row");
        tmux.SendKeys("Home");
        tmux.WaitFor(s => s.Contains("step  eval_loss  eval_perplexity", StringComparison.Ordinal) && s.Contains("evaluations", StringComparison.Ordinal), KeyTimeout, "the evaluations' header");
        string output = Assert.Single(Directory.GetDirectories(Runs));
        Assert.True(File.Exists(Path.Combine(output, "adapter", "adapter_config.json")), "the recipe's adapter was not saved");

        // The Adapters panel offers the run's adapter. With its config moved away, l fails, and the
        // outcome and its reason lead the message line at 80 columns, ahead of the long folder.
        string adapter = Path.Combine(output, "adapter");
        File.Move(Path.Combine(adapter, "adapter_config.json"), Path.Combine(output, "moved.json"));
        tmux.SendKeys("4");
        tmux.WaitForText("┤Adapters├", KeyTimeout);
        tmux.SendKeys("l");
        string failed = tmux.WaitForText("✗ failed: ", KeyTimeout);
        Assert.Matches(@"✗ failed: \S.*", failed);

        // The Log wraps the failure whole; Enter opens the selected (newest) line in a detail view, Esc closes it.
        tmux.SendKeys("6");
        tmux.WaitForText("┤Log├", KeyTimeout);
        tmux.SendKeys("Enter");
        string detail = tmux.WaitForText("┤log line — Esc closes├", KeyTimeout);
        Assert.Contains(adapter.Length > 40 ? adapter[^30..] : adapter, string.Concat(detail.Split('\n').Select(l => l.Trim('│', ' '))));
        Shot(tmux, "log-detail", "Log");
        tmux.SendKeys("Escape");
        tmux.WaitFor(s => !s.Contains("log line — Esc closes", StringComparison.Ordinal), KeyTimeout, "the detail view to close");

        // Back in place, l loads it onto the dashboard's model; it brings a chat template (as a chat fine-tune saves one).
        File.Move(Path.Combine(output, "moved.json"), Path.Combine(adapter, "adapter_config.json"));
        File.WriteAllText(Path.Combine(adapter, "chat_template.jinja"), PlaygroundChatTests.QaTemplate);
        tmux.SendKeys("4");
        tmux.WaitForText("┤Adapters├", KeyTimeout);
        tmux.SendKeys("l");
        tmux.WaitFor(s => s.Contains("* default", StringComparison.Ordinal) && s.Contains("lora (LORA)", StringComparison.Ordinal)
            && s.Contains("✓ succeeded: load adapter", StringComparison.Ordinal), KeyTimeout, "the loaded adapter and its outcome");
        Shot(tmux, "adapters", "Adapters");

        // The Playground answers with the adapter and with the base model, side by side.
        tmux.SendKeys("5");
        tmux.WaitForText("┤with adapter 'default'├", KeyTimeout);
        tmux.SendKeys("Enter");
        tmux.WaitFor(s => DoneTokens().IsMatch(s), RunTimeout, "both answers");
        Shot(tmux, "playground", "Playground");

        // c switches to chat mode (the adapter's template); Shift-Tab ×3 reaches the message box, Enter sends the turn,
        // and both sides show it with their replies (each column follows its end); a second turn follows the first.
        tmux.SendKeys("c");
        tmux.WaitForText("chat mode (", KeyTimeout);
        tmux.SendKeys("BTab", "BTab", "BTab");
        foreach (var (message, turn) in new[] { ("Who is Lily?", 1), ("What did she see?", 2) })
        {
            tmux.Type(message);
            tmux.SendKeys("Enter");
            tmux.WaitFor(s => Regex.Matches(s, "› " + Regex.Escape(message)).Count == 2 && s.Contains($"turn {turn} done: ", StringComparison.Ordinal), RunTimeout, $"both replies to turn {turn}");
        }
        Shot(tmux, "playground-chat", "Playground");

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
        StartRun(tmux, 5000);

        // Below 80 columns the tab strip says what it hides and still marks the running job.
        tmux.Resize(60, 24);
        string narrow = tmux.WaitFor(s => FrameWidth(s) == 60 && Regex.IsMatch(s.Split('\n')[0], @"\+5 6 7\s+● \S"), KeyTimeout, "the hint for hidden tabs and the job mark at 60 columns");
        Assert.Contains("2 Recipes", narrow.Split('\n')[0]);
        DashboardScreens.Save("run-narrow", tmux.CaptureSettledScreen(out string narrowRaw, 60, 24), narrowRaw, _dir["screens"]);
        tmux.Resize(80, 24);
        tmux.WaitFor(s => FrameWidth(s) == 80, KeyTimeout, "the frame to widen back to 80 columns");

        tmux.SendKeys("C-c");
        // The status line and the message line are drawn by separate events: wait for both.
        string stopped = tmux.WaitFor(s => s.Contains("■ stopped tiny-train.js at step", StringComparison.Ordinal)
            && s.Contains("■ cancelled: tiny-train.js", StringComparison.Ordinal), RunTimeout, "the stopped status and its message line");
        var m = Regex.Match(stopped, @"■ stopped tiny-train\.js at step (\d+), checkpoint (checkpoint-\d+)");
        Assert.True(m.Success, stopped);
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
            ("7", "Farm", "No farm connected"),
            ("5", "Playground", "Prompt:"),
        };
        foreach (var (key, title, expect) in panels)
        {
            tmux.SendKeys(key);
            tmux.WaitFor(s => s.Contains($"┤{title}├", StringComparison.Ordinal) && s.Contains(expect, StringComparison.Ordinal), KeyTimeout, $"the {title} panel");
            DashboardScreens.AssertLayout(tmux.CaptureScreen(out _), title);
        }

        // c asks for chat mode: the bundled model has no chat template, so the Playground says so and stays in completion mode.
        tmux.SendKeys("c");
        tmux.WaitFor(s => s.Contains("stories260k has no chat template", StringComparison.Ordinal) && s.Contains("completion", StringComparison.Ordinal), KeyTimeout, "the refusal of chat mode");
        Shot(tmux, "playground-no-template", "Playground");

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
        tmux.SendKeys("o");      // the Open model field starts at the model in use: o opens that folder anew
        tmux.WaitForText("✓ succeeded: load model", StartTimeout);
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

        // The edit survives moving the selection to another recipe and back.
        tmux.SendKeys("Down");
        tmux.WaitFor(s => s.Contains("$ peft run recipes/zz-other.js", StringComparison.Ordinal) && Regex.IsMatch(s, @"words\s+3"), KeyTimeout, "the other recipe's form");
        tmux.SendKeys("Up");
        tmux.WaitForText("$ peft run recipes/tiny-train.js --set steps=30", KeyTimeout);

        // y copies the command: to the system clipboard where there is one, else the message says how to select it.
        tmux.SendKeys("y");
        tmux.WaitFor(s => s.Contains("copied to the clipboard: peft run recipes/tiny-train.js --set steps=30", StringComparison.Ordinal)
            || s.Contains("no system clipboard here", StringComparison.Ordinal), KeyTimeout, "the copy's outcome");

        // A longer command wraps whole into rows that end in \ (they paste into a shell as one command).
        tmux.SendKeys("Tab", "Tab", "Tab"); // list → source → steps → learningRate
        tmux.SendKeys("End");
        tmux.Type("0");
        string wrapped = tmux.WaitFor(s => s.Contains("--set learningRate=5e-30", StringComparison.Ordinal), KeyTimeout, "the wrapped command line");
        Assert.Matches(@"\$ peft run recipes/tiny-train\.js --set steps=30 \\\s*│", wrapped);
        Shot(tmux, "recipes-wrapped", "Recipes");
        tmux.SendKeys("F6"); // leave the field (a digit would be text there)
        tmux.WaitForText("┤Run├", KeyTimeout);

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
