using PeftHost.Cli.Commands;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Cli;

/// <summary>
/// Option values are checked while the command line is parsed: a bad value is a usage error (exit 2) with one
/// line naming the option, before the command loads anything or writes a byte of output.
/// </summary>
public sealed class OptionValidationTests
{
    private static readonly string Model = TestPaths.Stories260k;

    public static TheoryData<string[], string> BadValues() => new()
    {
        { ["generate", "-m", Model, "-p", "Once", "-n", "-5"], "max new tokens" },
        { ["generate", "-m", Model, "-p", "Once", "--temperature", "-1"], "temperature" },
        { ["generate", "-m", Model, "-p", "Once", "--temperature", "NaN"], "temperature" },
        { ["generate", "-m", Model, "-p", "Once", "--top-p", "0"], "top-p" },
        { ["generate", "-m", Model, "-p", "Once", "--top-k", "-1"], "top-k" },
        { ["generate", "-m", Model, "-p", "Once", "--repetition-penalty", "0"], "repetition penalty" },
        { ["generate", "-m", Model, "-p", "Once", "--dtype", "float64"], "--dtype" },
        { ["generate", "-m", Model, "-p", "Once", "--device", "tpu"], "--device" },
        { ["generate", "-m", Model, "-p", "Once", "--device", "meta"], "meta device" },
        { ["generate", "-m", Model, "-p", "Once", "--threads", "-3"], "--threads" },
        { ["eval", "-m", Model, "-f", "text.txt", "--device", "meta"], "meta device" },
        { ["eval", "-m", Model, "-f", "text.txt", "--stride", "0"], "--stride" },
        { ["eval", "-m", Model, "-f", "text.txt", "--dtype", "int8"], "--dtype" },
        { ["inspect", "-m", Model, "--lora", "r=abc"], "--lora" },
        { ["inspect", "-m", Model, "--lora", "r=-4"], "--lora" },
        { ["inspect", "-m", Model, "--dtype", "float64"], "--dtype" },
        { ["merge", "-m", Model, "-a", "adapter", "-o", "out", "--dtype", "float64"], "--dtype" },
        { ["run", "recipe.js", "--set", "steps"], "--set" },
        { ["run", "recipe.js", "--set", "=x"], "--set" },
        { ["run", "recipe.js", "--timeout", "NaN"], "--timeout" },
        { ["run", "recipe.js", "--timeout", "-1"], "--timeout" },
        { ["run", "recipe.js", "--timeout", "1e300"], "--timeout" },
        { ["run", "recipe.js", "--max-memory", "0"], "--max-memory" },
        { ["run", "recipe.js", "--max-memory", "1e300"], "--max-memory" },
        { ["run", "recipe.js", "--max-statements", "0"], "--max-statements" },
        { ["import", "spamassassin", "corpus.jsonl", "-o", "out", "--max-body-chars", "-1"], "--max-body-chars" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void A_bad_option_value_is_a_usage_error_before_any_output(string[] args, string named)
    {
        var (code, output, error) = CliTests.Run(args);
        Assert.True(code == PeftCli.UsageError, $"exit {code}\nstdout: {output}\nstderr: {error}");
        Assert.Equal("", output);
        var lines = error.TrimEnd().Split('\n');
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        Assert.DoesNotMatch(@"\b[A-Z]\w+(Exception|Error)\b", error);
    }

    [Fact]
    public void Max_new_tokens_at_the_integer_limit_is_refused_before_the_prompt_is_printed()
    {
        var (code, output, error) = CliTests.Run("generate", "-m", Model, "-p", "Once upon a time", "-n", int.MaxValue.ToString());
        Assert.Equal(PeftCli.Failure, code);
        Assert.Equal("", output);
        Assert.Matches($@"^error: prompt \(\d+ tokens\) \+ max new tokens \({int.MaxValue}\) exceed the model's context of 512$", error.Trim());
    }

    [Fact]
    public void Merge_refuses_an_output_folder_that_is_inside_or_contains_an_input()
    {
        using var dir = new TempDir();
        // A copy of the model, so that a merge that went ahead would overwrite a copy and not the repository's model.
        string model = dir["model"];
        Directory.CreateDirectory(model);
        foreach (var file in Directory.GetFiles(Model)) File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        string adapter = Path.Combine(model, "adapter");
        Directory.CreateDirectory(adapter);
        byte[] weights = File.ReadAllBytes(Path.Combine(model, "model.safetensors"));
        Directory.CreateSymbolicLink(dir["link"], model);

        foreach (var (target, role) in new[] { (model, "model"), (dir["link"], "model"), (Path.Combine(model, "merged"), "model"), (adapter, "adapter"), (dir.Path, "model") })
        {
            var (code, output, error) = CliTests.Run("merge", "-m", model, "-a", adapter, "-o", target);
            Assert.True(code == PeftCli.UsageError, $"{target}: exit {code}\n{error}");
            Assert.Equal("", output);
            Assert.Contains($"the output folder may not be, contain or lie inside the {role} folder", error);
        }
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(model, "model.safetensors")));
    }
}
