using System.Globalization;
using System.Text.RegularExpressions;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>
/// The README's main job, run exactly as a newcomer runs it: LoRA on stories260k must learn the
/// SpamAssassin task on the later-collected *-2 groups (base ≈ 50%, required ≥ 88%).
/// </summary>
public sealed class QuickstartSpamTaskTests : IDisposable
{
    private readonly TempDir _out = new();

    public void Dispose() => _out.Dispose();

    [Fact]
    public void Lora_reaches_88_percent_accuracy_on_the_held_out_split_and_saves_a_peft_adapter()
    {
        var run = RecipeHarness.RunFile(Path.Combine(TestPaths.RepoRoot, "recipes", "quickstart.js"), _out.Path);
        Assert.True(run.Code == 0, $"stdout:\n{run.Out}\nstderr:\n{run.Err}");

        // Rows of the results table: "<model>  <accuracy>  <precision>  <recall>  <f1>".
        var before = Row(run.Out, "base stories260k");
        var after = Row(run.Out, "LoRA r=16, 150 steps");
        Assert.InRange(before.Accuracy, 0.40, 0.60);
        Assert.True(after.Accuracy >= 0.88, $"accuracy after LoRA {after.Accuracy}\n{run.Out}");
        Assert.True(after.F1 >= 0.85, $"F1 after LoRA {after.F1}");

        Assert.Matches(@"retention on Moby-Dick", run.Out);
        Assert.True(File.Exists(Path.Combine(_out.Path, "adapter", "adapter_config.json")));
        Assert.True(File.Exists(Path.Combine(_out.Path, "adapter", "adapter_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(_out.Path, "loss.png")));
    }

    private static (double Accuracy, double F1) Row(string output, string label)
    {
        var m = Regex.Match(output, "^" + Regex.Escape(label) + @"\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$", RegexOptions.Multiline);
        Assert.True(m.Success, $"no '{label}' row in:\n{output}");
        return (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture));
    }
}
