using System.Text.RegularExpressions;
using PeftHost.Cli.Commands;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Cli;

/// <summary>The `peft` commands run in-process, with their output and exit codes.</summary>
public sealed class CliTests
{
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = PeftCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Greedy_generate_prints_the_llama2c_reference_story()
    {
        var (code, output, error) = Run("generate", "--model", TestPaths.Stories260k, "--prompt", "", "--temperature", "0", "--max-new-tokens", "64");
        Assert.True(code == 0, error);
        Assert.StartsWith("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.", output.TrimStart());
    }

    [Fact]
    public void Generate_continues_a_prompt_and_prints_it_first()
    {
        var (code, output, _) = Run("generate", "-m", TestPaths.Stories260k, "-p", "Once upon a time", "-t", "0", "-n", "10");
        Assert.Equal(0, code);
        Assert.StartsWith("Once upon a time", output);
        Assert.True(output.Length > "Once upon a time".Length + 10);
    }

    [Fact]
    public void Eval_prints_loss_and_perplexity_with_six_significant_digits()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["text.txt"], "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.");
        var (code, output, error) = Run("eval", "--model", TestPaths.Stories260k, "--text-file", dir["text.txt"]);
        Assert.True(code == 0, error);
        var m = Regex.Match(output.Trim(), @"^loss: (\S+) perplexity: (\S+) tokens: (\d+)$");
        Assert.True(m.Success, output);
        double loss = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        double ppl = double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(loss, 0.1, 3.0);
        Assert.Equal(Math.Exp(loss), ppl, ppl * 1e-5);
        Assert.True(m.Groups[1].Value.Replace(".", "").TrimStart('0').Length <= 6);
    }

    [Fact]
    public void Inspect_works_on_a_folder_holding_only_config_json()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["config.json"], Models.ModelConfigTests.Llama2_7B().ToJsonString());
        var (code, output, error) = Run("inspect", "--model", dir.Path);
        Assert.True(code == 0, error);
        Assert.Contains("6,738,415,616", output);
        Assert.Contains("LlamaForCausalLM", output);
        Assert.Contains("float16", output);
        Assert.Contains("12.55 GiB", output);
    }

    [Fact]
    public void Usage_errors_exit_2_and_failures_exit_1_with_one_line()
    {
        var usage = Run("generate", "--no-such-option");
        Assert.Equal(PeftCli.UsageError, usage.Code);
        Assert.Contains("--no-such-option", usage.Err);

        var failure = Run("generate", "--model", "/nonexistent/model", "-p", "hi");
        Assert.Equal(PeftCli.Failure, failure.Code);
        Assert.StartsWith("error: ", failure.Err);
        Assert.DoesNotContain("   at ", failure.Err);

        var verbose = Run("generate", "--model", "/nonexistent/model", "--verbose");
        Assert.Contains("   at ", verbose.Err);
    }

    [Theory]
    [InlineData("generate")]
    [InlineData("eval")]
    [InlineData("inspect")]
    [InlineData("import", "llama2c")]
    public void Every_command_has_help(params string[] command)
    {
        var (code, output, _) = Run([.. command, "--help"]);
        Assert.Equal(0, code);
        Assert.Contains("Usage:", output);
    }
}
