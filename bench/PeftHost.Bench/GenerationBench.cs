using System.Text;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using static TorchSharp.torch;

namespace PeftHost.Bench;

/// <summary>Decoding speed with the KV cache against full recomputation, on the same model and prompt.</summary>
public static class GenerationBench
{
    private const int NewTokens = 128;
    private const int Runs = 5;

    /// <summary>Measures stories260k and a random ~20M-parameter LLaMA.</summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Greedy decoding of {NewTokens} tokens from BOS, batch 1, fp32; median of {Runs} runs after a warm-up.");
        sb.AppendLine();
        sb.AppendLine("| model | parameters | KV cache (tok/s) | recompute (tok/s) | cache speed-up |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        var rows = new List<(string Name, double Cached, double Recompute)>();
        using (var stories = ModelLoader.Load(Path.Combine(RepoPaths.Root, "models", "stories260k"), device: BenchDevice.Current))
            rows.Add(Row("stories260k", stories, sb));
        using (var random = ModelLoader.CreateRandom(BenchModels.Llama20M(), ScalarType.Float32, BenchDevice.Current, seed: 1))
            rows.Add(Row("random LLaMA ~20M", random, sb));
        var chart = new BenchChart("tokens-per-second", $"Greedy decoding, {NewTokens} tokens: KV cache vs recompute", "tokens/s",
            rows.Select(r => r.Name).ToArray(),
            [new ChartSeries("KV cache", rows.Select(r => r.Cached).ToArray()), new ChartSeries("recompute", rows.Select(r => r.Recompute).ToArray())]);
        return new SuiteResult(sb.ToString(), [chart]);
    }

    /// <summary>Measures one model both ways, appends its table row to <paramref name="sb"/> and returns the figures.</summary>
    private static (string Name, double Cached, double Recompute) Row(string name, CausalLanguageModel model, StringBuilder sb)
    {
        var generator = new TextGenerator(model);
        int bos = model.Config.BosTokenId ?? 1;
        double TokensPerSecond(bool cache)
        {
            var options = new GenerationOptions { Temperature = 0, MaxNewTokens = NewTokens, StopAtEos = false, UseCache = cache };
            return NewTokens / Measure.Median(Measure.Seconds(() => generator.Generate([[bos]], options), Runs));
        }
        // Side by side: both modes measured in the same process, one after the other.
        double cached = TokensPerSecond(true);
        double recompute = TokensPerSecond(false);
        long parameters = model.named_parameters().Sum(p => p.parameter.NumberOfElements);
        sb.AppendLine($"| {name} | {parameters:N0} | {Measure.F(cached)} | {Measure.F(recompute)} | {Measure.F(cached / recompute, "F2")}× |");
        return (name, cached, recompute);
    }
}

/// <summary>Random LLaMA configs of the sizes the issues name.</summary>
public static class BenchModels
{
    /// <summary>~21.6M parameters: hidden 512, 6 layers, 8 heads (4 KV), vocab 4096.</summary>
    public static ModelConfig Llama20M() => Config(hidden: 512, intermediate: 1376, layers: 6, heads: 8, kvHeads: 4, vocab: 4096);

    /// <summary>~1.1B parameters, TinyLlama's shape: hidden 2048, 22 layers, 32 heads (4 KV), vocab 32000.</summary>
    public static ModelConfig Llama1B() => Config(hidden: 2048, intermediate: 5632, layers: 22, heads: 32, kvHeads: 4, vocab: 32000);

    /// <summary>~97.5M parameters: hidden 768, 12 layers, 12 heads, vocab 8192.</summary>
    public static ModelConfig Llama100M() => Config(hidden: 768, intermediate: 2048, layers: 12, heads: 12, kvHeads: 12, vocab: 8192);

    /// <summary>A LLaMA config with the given shape and a 1024-token context.</summary>
    public static ModelConfig Config(int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab) =>
        ModelConfig.FromJson(new System.Text.Json.Nodes.JsonObject
        {
            ["architectures"] = new System.Text.Json.Nodes.JsonArray("LlamaForCausalLM"),
            ["hidden_size"] = hidden, ["intermediate_size"] = intermediate, ["num_hidden_layers"] = layers,
            ["num_attention_heads"] = heads, ["num_key_value_heads"] = kvHeads, ["vocab_size"] = vocab,
            ["max_position_embeddings"] = 1024, ["rms_norm_eps"] = 1e-5, ["bos_token_id"] = 1, ["eos_token_id"] = 2,
        }, $"bench config {hidden}x{layers}");
}
