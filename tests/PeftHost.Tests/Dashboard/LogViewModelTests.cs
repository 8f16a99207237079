using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;
using static PeftHost.Tests.Dashboard.DashboardEvents;

namespace PeftHost.Tests.Dashboard;

/// <summary>The Log panel: log lines and event lines, filtered by level, source and text.</summary>
public sealed class LogViewModelTests
{
    private static LogViewModel WithLines()
    {
        var vm = new LogViewModel();
        vm.Apply(new LogEvent(LogLevel.Debug, "trainer", "allocating"));
        vm.Apply(new LogEvent(LogLevel.Info, "recipe", "loaded stories260k"));
        vm.Apply(new LogEvent(LogLevel.Warning, "peft", "unknown key 'foo' ignored"));
        vm.Apply(new LogEvent(LogLevel.Error, "plugins", "Lora failed to load"));
        return vm;
    }

    [Fact]
    public void The_default_filter_hides_debug_lines_only()
    {
        var vm = WithLines();
        Assert.Equal(4, vm.Entries.Count);
        Assert.Equal(["loaded stories260k", "unknown key 'foo' ignored", "Lora failed to load"], vm.Visible.Select(e => e.Message));
        Assert.Equal("level ≥ INFO · source all", vm.FilterText);
    }

    [Fact]
    public void Level_source_and_search_filters_combine()
    {
        var vm = WithLines();
        vm.MinimumLevel = LogLevel.Warning;
        Assert.Equal(["unknown key 'foo' ignored", "Lora failed to load"], vm.Visible.Select(e => e.Message));
        vm.Source = "plugins";
        Assert.Equal(["Lora failed to load"], vm.Visible.Select(e => e.Message));
        vm.Source = null;
        vm.MinimumLevel = LogLevel.Debug;
        vm.Search = "LORA";
        Assert.Equal(["Lora failed to load"], vm.Visible.Select(e => e.Message));
        vm.Search = "trainer"; // the source matches too
        Assert.Equal(["allocating"], vm.Visible.Select(e => e.Message));
        Assert.Equal("level ≥ DEBUG · source all · search \"trainer\"", vm.FilterText);
    }

    [Fact]
    public void Cycling_walks_levels_and_the_sources_seen()
    {
        var vm = WithLines();
        Assert.Equal(["peft", "plugins", "recipe", "trainer"], vm.Sources);
        vm.CycleSource();
        Assert.Equal("peft", vm.Source);
        vm.CycleSource(); vm.CycleSource(); vm.CycleSource();
        Assert.Equal("trainer", vm.Source);
        vm.CycleSource();
        Assert.Null(vm.Source);
        vm.CycleLevel();
        Assert.Equal(LogLevel.Warning, vm.MinimumLevel);
        vm.CycleLevel(); vm.CycleLevel();
        Assert.Equal(LogLevel.Debug, vm.MinimumLevel);
    }

    [Fact]
    public void Multi_line_messages_become_lines_and_the_oldest_go_past_capacity()
    {
        var vm = new LogViewModel();
        vm.Apply(new LogEvent(LogLevel.Info, "recipe", "results\nprompt | continuation\r\nOnce  | upon"));
        Assert.Equal(["results", "prompt | continuation", "Once  | upon"], vm.Visible.Select(e => e.Message));
        for (int i = 0; i < LogViewModel.Capacity; i++) vm.Apply(new LogEvent(LogLevel.Info, "x", $"line {i}"));
        Assert.Equal(LogViewModel.Capacity, vm.Entries.Count);
        Assert.Equal("line 0", vm.Entries.First().Message);
    }

    [Fact]
    public void Notable_events_leave_lines_with_fitting_levels_and_steps_do_not()
    {
        var vm = new LogViewModel();
        vm.Apply(new PluginFailedEvent(Plugin("Corrupt", PluginState.Failed, reason: "not an assembly"), "not an assembly"));
        vm.Apply(new JobFinishedEvent(3, JobKind.Recipe, "x.js", JobOutcome.Failed, "x.js:1:1: boom", TimeSpan.FromSeconds(2)));
        vm.Apply(Evaluation(10, 2.0));
        Assert.False(vm.Apply(Step(10)));

        var lines = vm.Visible;
        Assert.Equal(3, lines.Count);
        Assert.Equal((LogLevel.Error, "plugins", "plugin Corrupt 1.0.0 failed: not an assembly"), (lines[0].Level, lines[0].Source, lines[0].Message));
        Assert.Equal((LogLevel.Error, "recipe job #3 x.js failed after 0:00:02: x.js:1:1: boom"), (lines[1].Level, lines[1].Message));
        Assert.Equal("evaluation at step 10: eval_loss 2.0000, eval_perplexity 7.3891", lines[2].Message);
        Assert.Matches(@"^\d\d:\d\d:\d\d ERROR plugins  plugin Corrupt 1.0.0 failed", vm.VisibleLines[0]);
    }

    [Fact]
    public void A_long_line_wraps_to_the_width_whole_with_its_continuation_under_the_message_and_opens_whole_in_the_detail()
    {
        var vm = new LogViewModel();
        string reason = "no adapter_config.json in /tmp/pefthost-runs/20261206-133000-tiny-train/checkpoints/checkpoint-12: "
            + "this folder holds a training checkpoint (optimizer state), not a PEFT adapter";
        vm.Apply(new JobFinishedEvent(3, JobKind.Model, "load adapter /tmp/pefthost-runs/20261206-133000-tiny-train/checkpoints/checkpoint-12",
            JobOutcome.Failed, reason, TimeSpan.FromSeconds(1)));
        var rows = vm.WrappedRows(78);
        Assert.True(rows.Count >= 3, string.Join("\n", rows.Select(r => r.Text)));
        Assert.All(rows, r => Assert.True(r.Text.Length <= 78, r.Text));
        Assert.All(rows.Skip(1), r => Assert.StartsWith(new string(' ', LogEntry.PrefixWidth), r.Text));
        // Nothing is lost: the rows hold every character of the line (long words are cut across rows).
        static string Dense(string text) => string.Concat(text.Where(c => c != ' '));
        Assert.Equal(Dense(vm.Visible.Single().Format()), Dense(string.Concat(rows.Select(r => r.Text))));
        var entry = Assert.Single(rows.Select(r => r.Entry).Distinct());
        Assert.EndsWith(reason, entry.Detail());
        Assert.Contains("ERROR · jobs", entry.Detail());
    }

    [Fact]
    public void Short_lines_stay_one_row_each()
    {
        var rows = WithLines().WrappedRows(80);
        Assert.Equal(3, rows.Count);
        Assert.Equal(rows.Select(r => r.Entry.Format()), rows.Select(r => r.Text));
    }
}
