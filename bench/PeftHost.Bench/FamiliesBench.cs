using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;

namespace PeftHost.Bench;

/// <summary>
/// Training throughput and peak memory per model family at ~100M, same shapes otherwise: the check that no family's
/// features (biases, q/k norms, soft-capping, sliding windows, fused projections, GeGLU) fall off a fast path.
/// </summary>
public static class FamiliesBench
{
    private const int Batch = 2, Steps = 3, Rounds = 2;

    /// <summary>Sliding window of the families that have one: half the bench's sequence, so that it binds.</summary>
    private const int Window = 128;

    /// <summary>Per family, what its ~100M config sets beyond <see cref="BaseShape"/>: its real structural features.</summary>
    private static readonly (string Family, string Features, Action<JsonObject> Set)[] Families =
    [
        ("llama", "plain (the baseline)", j => Arch(j, "LlamaForCausalLM", "llama")),
        ("llama3", "llama3 RoPE scaling, tied head", j =>
        {
            Arch(j, "LlamaForCausalLM", "llama");
            j["rope_scaling"] = JsonNode.Parse("""{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":128}""");
            j["tie_word_embeddings"] = true;
        }),
        ("qwen2", "q/k/v biases, tied head", j => { Arch(j, "Qwen2ForCausalLM", "qwen2"); j["tie_word_embeddings"] = true; }),
        ("qwen3", "per-head q/k RMSNorm", j => Arch(j, "Qwen3ForCausalLM", "qwen3")),
        ("gemma2", $"GeGLU, (1 + w) norms, four norms a layer, soft-capping, window {Window} on alternate layers", j =>
        {
            Arch(j, "Gemma2ForCausalLM", "gemma2");
            j["head_dim"] = 64; j["query_pre_attn_scalar"] = 64; j["hidden_activation"] = "gelu_pytorch_tanh";
            j["attn_logit_softcapping"] = 50.0; j["final_logit_softcapping"] = 30.0; j["sliding_window"] = Window; j["tie_word_embeddings"] = true;
        }),
        ("gemma3_text", $"Gemma 2's block without soft-caps, q/k norms, window {Window} on 5 of 6 layers, local/global RoPE", j =>
        {
            Arch(j, "Gemma3ForCausalLM", "gemma3_text");
            j["head_dim"] = 64; j["query_pre_attn_scalar"] = 64; j["hidden_activation"] = "gelu_pytorch_tanh";
            j["sliding_window"] = Window; j["sliding_window_pattern"] = 6; j["rope_local_base_freq"] = 10000.0; j["tie_word_embeddings"] = true;
        }),
        ("phi3", "fused qkv_proj and gate_up_proj", j => Arch(j, "Phi3ForCausalLM", "phi3")),
        ("mistral", $"window {Window} on every layer", j => { Arch(j, "MistralForCausalLM", "mistral"); j["sliding_window"] = Window; }),
    ];

    /// <summary>The shared ~100M shape: the training suite's ~100M LLaMA with 4 KV heads (every family here uses GQA).</summary>
    private static JsonObject BaseShape() => new()
    {
        ["hidden_size"] = 768, ["intermediate_size"] = 2048, ["num_hidden_layers"] = 12,
        ["num_attention_heads"] = 12, ["num_key_value_heads"] = 4, ["vocab_size"] = 8192,
        ["max_position_embeddings"] = 1024, ["rope_theta"] = 10000.0, ["rms_norm_eps"] = 1e-6,
        ["bos_token_id"] = 1, ["eos_token_id"] = 2, ["tie_word_embeddings"] = false,
    };

    /// <summary>The ~100M config of <paramref name="family"/>.</summary>
    public static ModelConfig Config(string family)
    {
        var json = BaseShape();
        Families.Single(f => f.Family == family).Set(json);
        return ModelConfig.FromJson(json, $"bench {family} ~100M config");
    }

    /// <summary>The suite: LoRA (r 8, all linear layers) on every family, <see cref="Rounds"/> interleaved rounds of fresh processes.</summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        var names = Families.Select(f => f.Family).ToArray();
        var runs = names.ToDictionary(n => n, _ => new List<JsonElement>());
        for (int round = 0; round < Rounds; round++)
            for (int i = 0; i < names.Length; i++)
            {
                string family = names[(i + round) % names.Length];
                Console.WriteLine($"  {family}, round {round + 1} of {Rounds}");
                runs[family].Add(ChildProcess.Run("train", $"100m:{family}", "lora_all", Batch.ToString(), Steps.ToString(), "0"));
            }
        double Tps(string f) => Measure.Median(runs[f].Select(r => r.GetProperty("tokensPerSecond").GetDouble()));
        long Peak(string f) => runs[f].Max(r => r.GetProperty("peakRss").GetInt64());
        var sb = new StringBuilder();
        sb.AppendLine($"Random ~100M configs of each family (hidden 768, 12 layers, 12 heads / 4 KV heads, intermediate 2048, vocab 8192), " +
                      $"each with its family's structural features; LoRA r = 8 on every linear layer, batch {Batch}, sequence 256, fp32, AdamW. " +
                      $"{Rounds} interleaved rounds of fresh processes (the order rotating); tokens/s is the median of the per-process medians " +
                      $"over {Steps} steps after a warm-up step, peak RSS the largest VmHWM.");
        sb.AppendLine();
        sb.AppendLine("| family | what it adds | parameters | tokens/s | rounds min–max | vs llama | peak RSS | vs llama |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (family, features, _) in Families)
        {
            var tps = runs[family].Select(r => r.GetProperty("tokensPerSecond").GetDouble()).ToArray();
            sb.AppendLine($"| {family} | {features} | {runs[family][0].GetProperty("parameters").GetInt64():N0} | {Measure.F(Tps(family))} | " +
                          $"{Measure.F(tps.Min())}–{Measure.F(tps.Max())} | {Measure.F(Tps(family) / Tps("llama"), "F2")}× | " +
                          $"{TrainingBench.ReportBytes(Peak(family))} | {Measure.F((double)Peak(family) / Peak("llama"), "F2")}× |");
        }
        sb.AppendLine();
        sb.AppendLine("Parameter counts differ where a family adds weights (biases, q/k norms, Gemma's extra norms) or ties its head.");
        return new SuiteResult(sb.ToString(),
        [
            new BenchChart("tokens-per-second", "LoRA training tokens/s per family, ~100M (median of rounds)", "tokens/s", names,
                [new ChartSeries("tokens/s", names.Select(Tps).ToArray())]),
            new BenchChart("peak-rss", "LoRA training peak RSS per family, ~100M", "peak RSS (MiB)", names,
                [new ChartSeries("peak RSS", names.Select(n => Peak(n) / (1024.0 * 1024)).ToArray())]),
        ]);
    }

    private static void Arch(JsonObject j, string architecture, string modelType)
    {
        j["architectures"] = new JsonArray(architecture);
        j["model_type"] = modelType;
    }
}
