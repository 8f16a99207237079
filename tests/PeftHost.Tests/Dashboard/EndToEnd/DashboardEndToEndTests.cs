using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard.EndToEnd;

/// <summary>
/// <c>peft tui</c> in a real terminal (tmux, 80×24): every panel laid out whole, keys that switch
/// panels, help and quit, NO_COLOR and resizing. Captures become the docs' screenshots when
/// <c>PEFTHOST_SCREENSHOTS</c> is set.
/// </summary>
[Collection(DashboardEndToEndCollection.Name)]
public sealed class DashboardEndToEndTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan KeyTimeout = TimeSpan.FromSeconds(20);
    private readonly TempDir _dir = new();

    private static string Peft => Path.Combine(AppContext.BaseDirectory, "peft");

    private string Command(string extra = "") =>
        $"'{Peft}' tui --workspace '{TestPaths.RepoRoot}' --recipes '{_dir["recipes"]}' --runs '{_dir["runs"]}' {extra}";

    private void WriteRecipes()
    {
        Directory.CreateDirectory(_dir["recipes"]);
        File.WriteAllText(Path.Combine(_dir["recipes"], "hello.js"), """
            // Says hello: a recipe with parameters for the form.
            import { defineParams, log } from "peft";

            const p = defineParams({
              name: "dashboard", // who to greet
              times: 2,          // how often
            });
            for (let i = 0; i < p.times; i++) log(`hello, ${p.name}`);
            """);
    }

    [TmuxFact]
    public void Every_panel_fits_80x24_with_its_title_and_the_status_bar_and_q_quits()
    {
        WriteRecipes();
        using var tmux = Tmux.Start(Command(), 80, 24);
        tmux.WaitFor(s => s.Contains("hello.js", StringComparison.Ordinal) && s.Contains("load model", StringComparison.Ordinal), StartTimeout, "the Recipes panel and the model");

        var panels = new (string Key, string Title, string Expect, string Shot)[]
        {
            ("1", "Plugins", "method lora", "plugins"),
            ("2", "Recipes", "$ peft run", "recipes"),
            ("3", "Run", "train loss", "run-idle"),
            ("4", "Adapters", "stories260k", "adapters"),
            ("6", "Log", "level ≥ INFO", "log"),
            ("5", "Playground", "Prompt:", "playground"),
        };
        foreach (var (key, title, expect, shot) in panels)
        {
            tmux.SendKeys(key);
            tmux.WaitFor(s => s.Contains($"┤{title}├", StringComparison.Ordinal) && s.Contains(expect, StringComparison.Ordinal), KeyTimeout, $"the {title} panel");
            var screen = tmux.CaptureScreen(out string raw);
            DashboardScreens.AssertLayout(screen, title);
            DashboardScreens.Save(shot, screen, raw, _dir["screens"]);
        }

        // The prompt box has focus now: letters are text, F-keys still act.
        tmux.Type("q1");
        tmux.WaitForText("Prompt: q1", KeyTimeout);
        tmux.SendKeys("F1");
        tmux.WaitForText("┤Help", KeyTimeout);
        tmux.SendKeys("Escape");
        tmux.WaitFor(s => !s.Contains("┤Help", StringComparison.Ordinal), KeyTimeout, "help to close");
        tmux.SendKeys("Escape"); // without help showing, Esc does nothing (Terminal.Gui's default would quit)
        tmux.SendKeys("F6"); // to Log, where no text field has focus
        tmux.WaitForText("┤Log├", KeyTimeout);
        tmux.SendKeys("q");
        tmux.WaitForText("[exited 0]", KeyTimeout);
    }

    [TmuxFact]
    public void No_color_draws_without_colours_and_a_resize_relays_the_screen()
    {
        WriteRecipes();
        using var tmux = Tmux.Start(Command("--no-model"), 80, 24, new Dictionary<string, string> { ["NO_COLOR"] = "1" });
        tmux.WaitForText("hello.js", StartTimeout);
        var screen = tmux.CaptureScreen(out string raw);
        Assert.False(screen.HasColor, "NO_COLOR screen has colours:\n" + raw);
        int recipesTab = screen.Row(0).IndexOf("2 Recipes", StringComparison.Ordinal);
        Assert.True(screen.Cells[0, recipesTab].Reverse, "the current tab is not in reverse video");
        Assert.False(screen.Cells[0, screen.Row(0).IndexOf("3 Run", StringComparison.Ordinal)].Reverse);
        DashboardScreens.Save("recipes-no-color", screen, raw, _dir["screens"]);

        tmux.Resize(100, 30);
        tmux.WaitFor(s => FrameWidth(s) == 100, KeyTimeout, "the frame to widen to 100 columns");
        DashboardScreens.AssertLayout(tmux.CaptureScreen(out _, 100, 30), "Recipes");
        tmux.Resize(80, 24);
        tmux.WaitFor(s => FrameWidth(s) == 80, KeyTimeout, "the frame to narrow to 80 columns");
        DashboardScreens.AssertLayout(tmux.CaptureScreen(out _, 80, 24), "Recipes");
        tmux.SendKeys("C-q");
        tmux.WaitForText("[exited 0]", KeyTimeout);
    }

    /// <summary>The width of the panel frame drawn on row 1 (from ╭ to ╮), or -1 while it is not whole.</summary>
    private static int FrameWidth(string screen)
    {
        string row = screen.Split('\n')[1].TrimEnd();
        return row.StartsWith('╭') && row.EndsWith('╮') ? row.Length : -1;
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>The end-to-end tests run one at a time: each starts a dashboard process.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DashboardEndToEndCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Dashboard end-to-end";
}
