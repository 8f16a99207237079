using PeftHost.Core.Recipes;
using PeftHost.Core.Recipes.Output;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;

namespace PeftHost.Tests.Recipes;

/// <summary>The console view: results on the output writer; progress (a live bar on a terminal, plain lines otherwise), notices and warnings on the error writer.</summary>
public sealed class RecipeConsoleViewTests
{
    private static TrainingStepEvent Step(int step, int total) =>
        new("run", step, total, 0.5, 2.25, 1e-4, 0.9, 1234.4, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(192));

    [Fact]
    public void On_a_terminal_progress_is_one_redrawn_bar_with_log_lines_printed_above_it()
    {
        var bus = new EventBus();
        var output = new StringWriter(); // a terminal shows both streams in one place
        using (new RecipeConsoleView(bus, output, output, interactive: true))
        {
            bus.Publish(Step(5, 10));
            bus.Log(LogLevel.Info, "recipe", "a line");
            bus.Publish(Step(10, 10));
        }
        string text = output.ToString();
        Assert.Contains("train  [===========>            ]  step 5/10  loss 2.2500  1,234 tok/s  ETA 0:03:12", text);
        Assert.Contains("\r", text);
        Assert.Matches(@"\r +\ra line\r?\ntrain  \[", text); // the bar is cleared, the line printed, the bar redrawn
        Assert.Contains("train  [========================]  step 10/10  loss 2.2500  1,234 tok/s" + Environment.NewLine, text);
    }

    [Fact]
    public void Off_a_terminal_progress_is_plain_lines_and_generation_progress_is_not_shown()
    {
        var bus = new EventBus();
        var output = new StringWriter();
        var error = new StringWriter();
        using (new RecipeConsoleView(bus, output, error, interactive: false))
        {
            bus.Publish(Step(5, 10));
            bus.Publish(new RecipeProgressEvent("generate", 3, 64, 100, Final: false));
            bus.Publish(new EvaluationEvent("run", 5, new Dictionary<string, double> { ["eval_loss"] = 1.5 }));
            bus.Log(LogLevel.Warning, "trainer", "careful");
        }
        Assert.Equal("", output.ToString());
        Assert.Equal("train step 5/10 loss 2.2500 1,234 tok/s ETA 0:03:12\neval @ step 5: eval_loss 1.5\nwarning: [trainer] careful\n", error.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void The_recipe_lines_are_the_only_output_and_the_host_notices_go_to_the_error_writer()
    {
        var bus = new EventBus();
        var output = new StringWriter();
        var error = new StringWriter();
        using (new RecipeConsoleView(bus, output, error, interactive: false))
        {
            bus.Log(LogLevel.Info, "recipe", "a result");
            bus.Log(LogLevel.Info, "peft", "loaded stories260k");
            bus.Log(LogLevel.Warning, "recipe", "careful");
        }
        Assert.Equal("a result\n", output.ToString().ReplaceLineEndings("\n"));
        Assert.Equal("[peft] loaded stories260k\nwarning: careful\n", error.ToString().ReplaceLineEndings("\n"));
    }
}
