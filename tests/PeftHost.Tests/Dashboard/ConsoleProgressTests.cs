using PeftHost.Cli.Commands;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;
using static PeftHost.Tests.Dashboard.DashboardEvents;

namespace PeftHost.Tests.Dashboard;

/// <summary>Headless progress: a redrawn bar on a terminal, plain lines when redirected; both from the bus alone.</summary>
public sealed class ConsoleProgressTests
{
    [Fact]
    public void On_a_terminal_one_line_is_redrawn_and_other_events_print_above_it()
    {
        var bus = new EventBus();
        var output = new StringWriter();
        using (var progress = ConsoleProgress.Attach(bus, output, interactive: true))
        {
            Assert.True(progress.IsInteractive);
            bus.Publish(Step(10, total: 40, loss: 2.5, tokensPerSecond: 1234, etaSeconds: 30));
            bus.Publish(Step(20, total: 40, loss: 2.25, tokensPerSecond: 1300, etaSeconds: 20));
            bus.Publish(Evaluation(20, 2.3));
            bus.Publish(Step(40, total: 40, loss: 2.0, etaSeconds: 0));
        }
        string text = output.ToString();
        Assert.StartsWith("\r[=====>                  ]  10/40  epoch 1.00  loss 2.5000  1,234 tok/s  ETA 0:00:30", text);
        Assert.Contains("\r[===========>            ]  20/40  epoch 2.00  loss 2.2500  1,300 tok/s  ETA 0:00:20", text);
        Assert.Contains("\revaluation at step 20: eval_loss 2.3000, eval_perplexity 9.9742" + Environment.NewLine, text);
        Assert.Contains("[========================]  40/40", text);
        Assert.EndsWith(Environment.NewLine, text); // the bar is ended when detached
        Assert.Equal(2, text.Split('\n').Length - 1);
    }

    [Fact]
    public void Redirected_output_gets_plain_lines()
    {
        var bus = new EventBus();
        var output = new StringWriter();
        using (ConsoleProgress.Attach(bus, output))
        {
            bus.Publish(Step(10, total: 40, loss: 2.5, tokensPerSecond: 1234.4, etaSeconds: 30));
            bus.Publish(new CheckpointEvent("run-1", 10, "runs/x/checkpoint-10", []));
            bus.Publish(new TrainingFinishedEvent("run-1", 10, TrainingStopReason.Cancelled, null, 2.5, TimeSpan.FromSeconds(3), "runs/x/checkpoint-10"));
            bus.Publish(new LogEvent(LogLevel.Info, "recipe", "not progress"));
        }
        Assert.Equal(
        [
            "step 10/40 epoch 1.00 loss 2.5000 lr 3.00e-04 grad 0.8000 1234 tok/s eta 0:00:30",
            "checkpoint at step 10: runs/x/checkpoint-10",
            "training cancelled at step 10, loss 2.5000",
        ], output.ToString().TrimEnd().Split(Environment.NewLine));
    }

    [Fact]
    public void Detached_progress_prints_nothing_more()
    {
        var bus = new EventBus();
        var output = new StringWriter();
        ConsoleProgress.Attach(bus, output, interactive: false).Dispose();
        bus.Publish(Step(1));
        Assert.Equal("", output.ToString());
    }
}
