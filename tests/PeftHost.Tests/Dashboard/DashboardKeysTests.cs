using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Generation;
using PeftHost.Core.Plugins;
using PeftHost.Tests.Support;
using Terminal.Gui.Input;
using static PeftHost.Tests.Dashboard.DashboardEvents;

namespace PeftHost.Tests.Dashboard;

/// <summary>Global keys (resolved before any view sees them) and the dashboard's routing of events to panels.</summary>
public sealed class DashboardKeysTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Function_keys_and_ctrl_keys_work_while_typing_too(bool typing)
    {
        Assert.Equal(DashboardAction.Help, DashboardKeys.Resolve(Key.F1, typing));
        Assert.Equal(DashboardAction.Run, DashboardKeys.Resolve(Key.F5, typing));
        Assert.Equal(DashboardAction.Stop, DashboardKeys.Resolve(Key.C.WithCtrl, typing));
        Assert.Equal(DashboardAction.ReloadPlugins, DashboardKeys.Resolve(Key.F9, typing));
        Assert.Equal(DashboardAction.NextPanel, DashboardKeys.Resolve(Key.F6, typing));
        Assert.Equal(DashboardAction.PreviousPanel, DashboardKeys.Resolve(Key.F6.WithShift, typing));
        Assert.Equal(DashboardAction.Quit, DashboardKeys.Resolve(Key.Q.WithCtrl, typing));
        Assert.Equal(DashboardAction.ShowRun, DashboardKeys.Resolve(Key.D3.WithAlt, typing));
    }

    [Fact]
    public void Q_and_digits_act_only_when_no_text_field_has_focus()
    {
        Assert.Equal(DashboardAction.Quit, DashboardKeys.Resolve(Key.Q, typing: false));
        Assert.Equal(DashboardAction.Quit, DashboardKeys.Resolve(Key.Q.WithShift, typing: false));
        Assert.Null(DashboardKeys.Resolve(Key.Q, typing: true));
        Assert.Equal(DashboardAction.ShowPlugins, DashboardKeys.Resolve(Key.D1, typing: false));
        Assert.Equal(DashboardAction.ShowLog, DashboardKeys.Resolve(Key.D6, typing: false));
        Assert.Null(DashboardKeys.Resolve(Key.D6, typing: true));
        Assert.Equal(DashboardAction.ShowFarm, DashboardKeys.Resolve(Key.D7, typing: false));
        Assert.Equal(DashboardPanel.Farm, DashboardKeys.PanelOf(DashboardAction.ShowFarm));
        Assert.Null(DashboardKeys.Resolve(Key.D8, typing: false));
        Assert.Null(DashboardKeys.Resolve(Key.A, typing: false)); // panel letters are the panels' business
        Assert.Equal(DashboardPanel.Adapters, DashboardKeys.PanelOf(DashboardAction.ShowAdapters));
        Assert.Null(DashboardKeys.PanelOf(DashboardAction.Quit));
    }

    [Fact]
    public void Every_key_in_the_help_is_one_a_panel_or_the_keyboard_handles()
    {
        var keys = DashboardKeys.Help.Select(h => h.Key).ToList();
        foreach (var expected in new[] { "F1", "F5", "Ctrl-C", "F9", "q" })
            Assert.Contains(keys, k => k.Split(", ").Any(part => part.StartsWith(expected, StringComparison.Ordinal)));
        Assert.All(DashboardKeys.Help, h => Assert.True(h.Key.Length + h.Action.Length < 64, h.Action)); // fits the help box at 80 columns
    }

    private sealed class NoCommands : IAdapterCommands, IPlaygroundCommands
    {
        public CommandResult SetActive(string name) => CommandResult.Refused("");
        public CommandResult SetDisabled(bool disabled) => CommandResult.Refused("");
        public CommandResult ToggleMerge(string name) => CommandResult.Refused("");
        public CommandResult Save(string name, string directory) => CommandResult.Refused("");
        public CommandResult LoadAdapter(string directory) => CommandResult.Refused("");
        public CommandResult LoadModel(string directory) => CommandResult.Refused("");
        public CommandResult ExportGguf(string directory) => CommandResult.Refused("");
        public CommandResult Generate(string prompt, GenerationOptions options) => CommandResult.Refused("");
        public CommandResult Chat(ChatRequest request, GenerationOptions options) => CommandResult.Refused("");
    }

    [Fact]
    public void The_dashboard_routes_each_event_to_the_panels_it_changes()
    {
        using var dir = new TempDir();
        var vm = new DashboardViewModel(new RecipesViewModel(new RecipeCatalog(dir.Path)), new NoCommands(), new NoCommands());
        Assert.Equal([DashboardPanel.Plugins, DashboardPanel.Log], vm.Apply(new PluginLoadedEvent(Plugin("Lora"))).Order());
        Assert.Equal([DashboardPanel.Run, DashboardPanel.Log], vm.Apply(new JobStartedEvent(1, JobKind.Recipe, "x.js")).Order());
        Assert.Equal("x.js", vm.RunningJob);
        Assert.Equal([DashboardPanel.Run], vm.Apply(Step(1)).Order());
        vm.Apply(new JobFinishedEvent(1, JobKind.Recipe, "x.js", JobOutcome.Succeeded, null, TimeSpan.FromSeconds(1)));
        Assert.Null(vm.RunningJob);
        Assert.Equal("✓ succeeded: x.js", vm.Status);

        vm.Current = DashboardPanel.Farm;
        vm.Cycle(1);
        Assert.Equal(DashboardPanel.Plugins, vm.Current);
        vm.Cycle(-1);
        Assert.Equal(DashboardPanel.Farm, vm.Current);
        Assert.Equal(["1 Plugins", "2 Recipes", "3 Run", "4 Adapters", "5 Playground", "6 Log", "7 Farm"], DashboardViewModel.TabTitles);
    }

    [Fact]
    public void A_failed_actions_outcome_and_reason_come_before_its_long_name_so_80_columns_show_them()
    {
        using var dir = new TempDir();
        var vm = new DashboardViewModel(new RecipesViewModel(new RecipeCatalog(dir.Path)), new NoCommands(), new NoCommands());
        string folder = "/tmp/pefthost-e2e-1234abcd/runs/20261206-133000-tiny-train/checkpoints/checkpoint-12";
        vm.Apply(new JobFinishedEvent(2, JobKind.Model, $"load adapter {folder}", JobOutcome.Failed, "no adapter_config.json in the folder", TimeSpan.FromSeconds(1)));
        Assert.StartsWith("✗ failed: no adapter_config.json in the folder", vm.Status);
        Assert.EndsWith($"(load adapter {folder})", vm.Status);
        Assert.Contains("✗ failed: no adapter_config.json in the folder", DisplayFormat.Fit(vm.Status, 80));

        vm.Apply(new JobFinishedEvent(3, JobKind.Model, $"load adapter {folder}", JobOutcome.Succeeded, null, TimeSpan.FromSeconds(1)));
        Assert.StartsWith("✓ succeeded: load adapter /tmp/", vm.Status);
    }

    [Theory]
    [InlineData(80, DashboardPanel.Recipes, "", " 1 Plugins   2 Recipes   3 Run   4 Adapters   5 Playground   6 Log   7 Farm")]
    // Seven tabs fill 77 of 80 columns: a running job is still marked, by ● alone.
    [InlineData(80, DashboardPanel.Run, "tiny-train.js", " 1 Plugins   2 Recipes   3 Run   4 Adapters   5 Playground   6 Log   7 Farm    ●")]
    [InlineData(90, DashboardPanel.Run, "tiny-train.js", " 1 Plugins   2 Recipes   3 Run   4 Adapters   5 Playground   6 Log   7 Farm   ● tiny-trai…")]
    [InlineData(70, DashboardPanel.Run, "tiny-train.js", " 1 Plugins   2 Recipes   3 Run   4 Adapters   5 Playground  +6 7     ●")]
    [InlineData(60, DashboardPanel.Recipes, "tiny-train.js", " 1 Plugins   2 Recipes   3 Run   4 Adapters  +5 6 7  ● tiny…")]
    [InlineData(60, DashboardPanel.Log, "", " 1 Plugins   2 Recipes   3 Run   4 Adapters   6 Log  +5 7")]
    [InlineData(40, DashboardPanel.Playground, "tiny-train.js", " 1 Plugins   5 Playground  +2 3 4 6 7  ●")]
    public void Below_80_columns_the_tab_strip_says_what_it_hides_instead_of_dropping_it_silently(int width, DashboardPanel current, string job, string expected)
    {
        string strip = TabStrip.Text(width, current, job);
        Assert.Equal(expected, strip);
        Assert.True(strip.Length <= width);
        var shown = TabStrip.Layout(width, current, job);
        Assert.Contains(shown, s => s.Panel == current);
    }
}
