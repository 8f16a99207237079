using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace PeftHost.Tests.Export;

/// <summary>
/// LoRA adapters exported by <c>peft export gguf</c>: loaded unmerged by llama.cpp beside the base GGUF, and merged into
/// one model GGUF, both give PeftHost's greedy tokens and NLL with the adapter unmerged.
/// </summary>
public sealed class GgufLoraExportTests(ITestOutputHelper log)
{
    /// <summary>A seeded LoRA adapter on every linear layer of stories260k (B non-zero, so it changes the output), saved in PEFT's layout.</summary>
    internal static void SaveSeededAdapter(string dir, JsonObject? extra = null)
    {
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()), baseModelPath: TestPaths.Stories260k);
        var config = new JsonObject { ["r"] = 4, ["loraAlpha"] = 8, ["targetModules"] = "all-linear" };
        foreach (var (key, value) in extra ?? []) config[key] = value?.DeepClone();
        peft.AddAdapter("lora", config);
        using var g = new Generator(7);
        using (no_grad())
            foreach (var (key, p) in peft["default"].Adapter.NamedParameters().OrderBy(p => p.Key, StringComparer.Ordinal))
                p.copy_(randn(p.shape, generator: g) * (key.Contains("lora_B") ? 0.04 : 0.3));
        peft.SaveAdapter(dir);
    }

    /// <summary>stories260k with the adapter in <paramref name="adapterDir"/> applied unmerged.</summary>
    private static CausalLanguageModel Unmerged(string adapterDir)
    {
        var model = ModelLoader.Load(TestPaths.Stories260k);
        new PeftModel(model, new StaticMethodCatalog(new LoraMethod()), baseModelPath: TestPaths.Stories260k).LoadAdapter(adapterDir);
        return model;
    }

    private void AssertSameAsPeftHost(CausalLanguageModel model, LlamaCppResult judged)
    {
        foreach (var p in judged.Prompts)
        {
            log.WriteLine($"llama.cpp: {p.Text}");
            Assert.Equal(LlamaCppJudge.Greedy(model, p.PromptTokens, 16, eos: 2), p.Generated);
        }
        double nll = LlamaCppJudge.MeanNll(model, judged.Texts[0].Tokens);
        log.WriteLine($"mean NLL: llama.cpp {judged.Texts[0].Nll:F6}, PeftHost {nll:F6}");
        Assert.InRange(Math.Abs(nll - judged.Texts[0].Nll), 0, 1e-4);
    }

    private static void Export(params string[] args)
    {
        var run = CliTests.Run(["export", "gguf", "--model", TestPaths.Stories260k, .. args]);
        Assert.True(run.Code == 0, run.Err);
    }

    [SkippableFact]
    public void A_LoRA_adapter_unmerged_in_llama_cpp_and_merged_both_match_PeftHost_unmerged()
    {
        using var dir = new TempDir();
        SaveSeededAdapter(dir["adapter"]);
        Export("--out", dir["base.gguf"]);
        Export("--adapter", dir["adapter"], "--out", dir["lora.gguf"]);
        Export("--adapter", dir["adapter"], "--merge", "--out", dir["merged.gguf"]);
        using var model = Unmerged(dir["adapter"]);

        var baseOnly = LlamaCppJudge.Run(dir["base.gguf"], texts: [GgufModelExportTests.Text]);
        var unmerged = LlamaCppJudge.Run(dir["base.gguf"], dir["lora.gguf"], GgufModelExportTests.Prompts, 16, [GgufModelExportTests.Text]);
        // The adapter changes the model: an adapter GGUF that llama.cpp ignored would leave the base NLL.
        Assert.True(Math.Abs(unmerged.Texts[0].Nll - baseOnly.Texts[0].Nll) > 0.01, $"adapter NLL {unmerged.Texts[0].Nll} vs base {baseOnly.Texts[0].Nll}");
        AssertSameAsPeftHost(model, unmerged);
        AssertSameAsPeftHost(model, LlamaCppJudge.Run(dir["merged.gguf"], prompts: GgufModelExportTests.Prompts, maxTokens: 16, texts: [GgufModelExportTests.Text]));
    }

    [SkippableFact]
    public void RsLoRA_rank_pattern_and_alpha_pattern_are_folded_exactly()
    {
        using var dir = new TempDir();
        SaveSeededAdapter(dir["adapter"], new JsonObject
        {
            ["useRslora"] = true,
            ["rankPattern"] = new JsonObject { ["q_proj"] = 2, ["layers.1.mlp.down_proj"] = 6 },
            ["alphaPattern"] = new JsonObject { ["v_proj"] = 3.0, ["gate_proj"] = 20.0 },
        });
        Export("--out", dir["base.gguf"]);
        Export("--adapter", dir["adapter"], "--out", dir["lora.gguf"]);
        using var model = Unmerged(dir["adapter"]);
        AssertSameAsPeftHost(model, LlamaCppJudge.Run(dir["base.gguf"], dir["lora.gguf"], GgufModelExportTests.Prompts, 16, [GgufModelExportTests.Text]));
    }
}
