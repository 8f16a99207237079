using System.Text.Json.Nodes;
using PeftHost.Core.Export.Gguf;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace PeftHost.Tests.Export;

/// <summary>
/// Random-weight tiny models of every architecture PeftHost loads (grouped-query attention, untied head, Qwen2's q/k/v
/// biases) exported to GGUF: llama.cpp's next-token log-probabilities agree with PeftHost's at every position.
/// The models borrow stories260k's SentencePiece vocabulary (512 pieces) so that llama.cpp has a tokenizer.
/// </summary>
public sealed class GgufArchitectureExportTests(ITestOutputHelper log)
{
    /// <summary>Largest |log p(llama.cpp) − log p(PeftHost)| allowed over every position and vocabulary entry (both f32).</summary>
    private const double Tolerance = 1e-4;

    private static CausalLanguageModel RandomModel(string architecture, string modelType, Action<JsonObject>? more = null)
    {
        var config = TinyModels.Config(json =>
        {
            json["architectures"] = new JsonArray(architecture);
            json["model_type"] = modelType;
            json["hidden_size"] = 64;
            json["intermediate_size"] = 96;
            json["num_attention_heads"] = 4;
            json["num_key_value_heads"] = 2;
            json["vocab_size"] = 512;
            json["max_position_embeddings"] = 256;
            json["rope_theta"] = 1e6;
            more?.Invoke(json);
        });
        var model = ModelLoader.CreateRandom(config, ScalarType.Float32, CPU, seed: 11);
        // Weights large enough for peaked next-token distributions (the default init gives nearly uniform ones, which
        // would hide a wrong row order), norms away from 1 and non-zero biases, so that each tensor written wrongly shows.
        using var g = new Generator(12);
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                p.copy_(name.EndsWith("norm.weight", StringComparison.Ordinal) ? 1 + 0.2 * randn(p.shape, generator: g)
                    : randn(p.shape, generator: g) * (name.EndsWith(".bias", StringComparison.Ordinal) ? 0.5 : 0.25));
        return model;
    }

    private void AssertLlamaCppAgrees(CausalLanguageModel model, string name)
    {
        using var dir = new TempDir();
        foreach (var file in new[] { "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(TestPaths.Stories260k, file), dir[file]);
        var gguf = dir[$"{name}.gguf"];
        GgufModelExporter.Export(model, dir.Path, gguf, GgmlType.F32);
        var judged = LlamaCppJudge.Run(gguf, logprobTexts: [GgufModelExportTests.Text[..60]]).Logprobs[0];
        var (worst, ours) = LlamaCppJudge.LogProbDifference(model, judged);
        double spread = ours.Average(row => row.Max() - row.Min());
        log.WriteLine($"{name}: {judged.Tokens.Length} positions × {ours[0].Length} log-probabilities (mean max − min {spread:F2}), largest difference {worst:E2}");
        Assert.InRange(worst, 0, Tolerance);
    }

    [SkippableFact]
    public void Llama_with_untied_head_and_gqa_matches()
    {
        using var model = RandomModel("LlamaForCausalLM", "llama");
        AssertLlamaCppAgrees(model, "llama");
    }

    [SkippableFact]
    public void Mistral_matches()
    {
        using var model = RandomModel("MistralForCausalLM", "mistral", json => json["sliding_window"] = 4096);
        AssertLlamaCppAgrees(model, "mistral");
    }

    [SkippableFact]
    public void Qwen2_with_qkv_biases_matches()
    {
        using var model = RandomModel("Qwen2ForCausalLM", "qwen2");
        Assert.Contains(model.named_parameters(), p => p.name == "model.layers.0.self_attn.q_proj.bias");
        AssertLlamaCppAgrees(model, "qwen2");
    }

    [Fact]
    public void An_architecture_llama_cpp_export_does_not_know_is_refused_by_name()
    {
        var config = TinyModels.Config() with { Architecture = "GemmaForCausalLM" };
        var e = Assert.Throws<InvalidOperationException>(() => GgufArchitecture.For(config));
        Assert.Equal("architecture GemmaForCausalLM cannot be exported to GGUF (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
            + "Qwen3ForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM, Phi3ForCausalLM)", e.Message);
    }
}
