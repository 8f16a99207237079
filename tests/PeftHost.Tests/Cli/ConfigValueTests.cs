using System.Text.Json.Nodes;
using PeftHost.Cli.Commands;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Cli;

/// <summary>
/// Invalid configuration values are refused when the file is loaded, naming the file and key; merges that cannot
/// be done say why.
/// </summary>
public sealed class ConfigValueTests
{
    [Theory]
    [InlineData("rms_norm_eps", "-1", "'rms_norm_eps': must be a positive number, got -1")]
    [InlineData("rms_norm_eps", "0", "'rms_norm_eps': must be a positive number, got 0")]
    [InlineData("rope_theta", "0", "'rope_theta': must be a positive number, got 0")]
    [InlineData("rope_scaling", """{"rope_type": "linear", "factor": 0}""", "'rope_scaling': 'factor' must be a positive number, got 0")]
    [InlineData("rope_scaling", """{"rope_type": "llama3", "factor": 8, "low_freq_factor": -1}""", "'rope_scaling': 'low_freq_factor' must be a positive number, got -1")]
    public void An_invalid_model_config_value_is_refused_naming_the_key(string key, string value, string message)
    {
        using var dir = new TempDir();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.Stories260k, "config.json")))!.AsObject();
        config[key] = JsonNode.Parse(value);
        File.WriteAllText(dir["config.json"], config.ToJsonString());
        var (code, output, error) = CliTests.Run("inspect", "-m", dir.Path);
        Assert.Equal(PeftCli.Failure, code);
        Assert.Equal("", output);
        Assert.Equal($"error: {dir["config.json"]}: {message}", error.Trim());
    }

    /// <summary>Saves a LoRA adapter (random B) with a recipe, into <paramref name="harness"/>'s output folder, as "adapter".</summary>
    private static string SaveAdapter(RecipeHarness harness, string config)
    {
        harness.RunOk($$"""
            import { loadModel, getPeftModel, saveAdapter } from "peft";
            saveAdapter(getPeftModel(loadModel("models/stories260k"), {{config}}), "adapter");
            """);
        return Path.Combine(harness.Output, "adapter");
    }

    [Fact]
    public void A_lora_alpha_beyond_float32_is_refused_when_the_adapter_loads()
    {
        using var h = new RecipeHarness();
        string adapter = SaveAdapter(h, """{ method: "lora", r: 4, targetModules: ["q_proj", "v_proj"], initLoraWeights: false }""");
        string configPath = Path.Combine(adapter, "adapter_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["lora_alpha"] = 1e308;
        File.WriteAllText(configPath, config.ToJsonString());
        File.WriteAllText(Path.Combine(h.Folder, "text.txt"), "Once upon a time there was a dog.");

        foreach (var args in new[]
        {
            new[] { "merge", "-m", TestPaths.Stories260k, "-a", adapter, "-o", Path.Combine(h.Folder, "merged") },
            new[] { "eval", "-m", TestPaths.Stories260k, "-a", adapter, "-f", Path.Combine(h.Folder, "text.txt") },
        })
        {
            var (code, output, error) = CliTests.Run(args);
            Assert.True(code == PeftCli.Failure, $"{args[0]}: exit {code}\n{output}\n{error}");
            Assert.Equal("", output);
            Assert.StartsWith($"error: {configPath}: lora_alpha = 1E+308 gives a scaling of 2.5E+307 at r = 4, beyond the float32 range", error);
        }
        Assert.False(Directory.Exists(Path.Combine(h.Folder, "merged")));
    }

    [Fact]
    public void Merging_a_prompt_learning_adapter_is_refused_saying_why()
    {
        using var h = new RecipeHarness();
        string adapter = SaveAdapter(h, """{ method: "prompt_tuning", numVirtualTokens: 4 }""");
        var (code, output, error) = CliTests.Run("merge", "-m", TestPaths.Stories260k, "-a", adapter, "-o", Path.Combine(h.Folder, "merged"));
        Assert.Equal(PeftCli.Failure, code);
        Assert.Equal("", output);
        Assert.Equal("error: adapter 'default' (prompt_tuning) cannot be merged: a prompt-learning adapter adds virtual tokens (or attention prefixes) " +
            "to the input, and there is no weight to fold them into; use it unmerged (e.g. peft generate --adapter)", error.Trim());
        Assert.False(Directory.Exists(Path.Combine(h.Folder, "merged")));
    }
}
