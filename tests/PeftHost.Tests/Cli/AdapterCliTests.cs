using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Cli;

/// <summary>The CLI's adapter paths: --adapter on generate/eval, merge, inspect --lora. Methods come from the built plugins.</summary>
public sealed class AdapterCliTests
{
    /// <summary>A LoRA adapter for stories260k with random B, saved in PEFT's layout.</summary>
    private static void SaveRandomAdapter(string dir)
    {
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()), baseModelPath: TestPaths.Stories260k);
        peft.AddAdapter("lora", new JsonObject { ["r"] = 4, ["loraAlpha"] = 8, ["targetModules"] = "all-linear" });
        // Both factors from a local generator: A's own init draws from torch's global one, which
        // tests running in parallel advance, and some draws left greedy decoding unchanged.
        using var g = new Generator(4);
        using (no_grad())
            foreach (var (key, p) in peft["default"].Adapter.NamedParameters().OrderBy(p => p.Key, StringComparer.Ordinal))
                p.copy_(randn(p.shape, generator: g) * (key.Contains("lora_B") ? 0.05 : 0.2));
        peft.SaveAdapter(dir);
    }

    [Fact]
    public void Merged_model_scores_like_the_unmerged_adapter_and_loads_as_a_plain_model()
    {
        using var dir = new TempDir();
        SaveRandomAdapter(dir["adapter"]);
        File.WriteAllText(dir["text.txt"], "Once upon a time, there was a little dog named Max. He liked to run in the park with his friends.");

        var baseRun = CliTests.Run("eval", "--model", TestPaths.Stories260k, "--text-file", dir["text.txt"]);
        var adapted = CliTests.Run("eval", "--model", TestPaths.Stories260k, "--adapter", dir["adapter"], "--text-file", dir["text.txt"]);
        Assert.True(adapted.Code == 0, adapted.Err);
        Assert.NotEqual(baseRun.Out, adapted.Out);

        var merge = CliTests.Run("merge", "--model", TestPaths.Stories260k, "--adapter", dir["adapter"], "--out", dir["merged"]);
        Assert.True(merge.Code == 0, merge.Err);
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(dir["merged"], file)), file);
        var merged = CliTests.Run("eval", "--model", dir["merged"], "--text-file", dir["text.txt"]);
        Assert.True(merged.Code == 0, merged.Err);
        // Merged weights are summed in a different order than the unmerged path: equal to float precision.
        Assert.Equal(Loss(adapted.Out), Loss(merged.Out), 4);

        // The merged folder is a plain Hugging Face model: no adapter keys, same shapes as the base.
        using var plain = ModelLoader.Load(dir["merged"]);
        Assert.DoesNotContain(plain.named_parameters(), p => p.name.Contains("lora"));
    }

    private static double Loss(string evalOutput) =>
        double.Parse(evalOutput.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Generate_with_an_adapter_differs_from_the_base()
    {
        using var dir = new TempDir();
        SaveRandomAdapter(dir["adapter"]);
        var plain = CliTests.Run("generate", "-m", TestPaths.Stories260k, "-p", "Once upon a time", "-t", "0", "-n", "24");
        var adapted = CliTests.Run("generate", "-m", TestPaths.Stories260k, "-a", dir["adapter"], "-p", "Once upon a time", "-t", "0", "-n", "24");
        Assert.True(adapted.Code == 0, adapted.Err);
        Assert.StartsWith("Once upon a time", adapted.Out);
        Assert.NotEqual(plain.Out, adapted.Out);
    }

    [Fact]
    public void Inspect_sizes_a_lora_adapter_on_a_config_only_folder()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["config.json"], Models.ModelConfigTests.Llama2_7B().ToJsonString());
        var (code, output, error) = CliTests.Run("inspect", "--model", dir.Path, "--lora", "r=8,alpha=16,targets=q_proj+v_proj");
        Assert.True(code == 0, error);
        Assert.Contains("trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622", output);
        var typo = CliTests.Run("inspect", "--model", dir.Path, "--lora", "r=8,alhpa=16");
        Assert.Equal(PeftHost.Cli.Commands.PeftCli.UsageError, typo.Code);
        Assert.Contains("did you mean", typo.Err);
    }

    [Fact]
    public void A_missing_adapter_folder_is_a_one_line_error()
    {
        var (code, _, error) = CliTests.Run("eval", "--model", TestPaths.Stories260k, "--adapter", "/nonexistent/adapter", "--text-file", "/etc/hostname");
        Assert.Equal(1, code);
        Assert.Contains("adapter_config.json", error);
    }
}
