using System.Text.RegularExpressions;
using PeftHost.Core.Models;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Core.Export.Gguf;

/// <summary>
/// How one model maps onto a llama.cpp architecture (convert_hf_to_gguf.py's model classes): the GGUF architecture
/// name, the hyperparameter keys, the tensor names and each tensor's conversion.
/// LLaMA and Mistral become <c>llama</c>, whose attention rotates interleaved pairs, so q/k rows are reordered from
/// Hugging Face's rotate-half layout; Llama 3's rope_scaling becomes the <c>rope_freqs</c> tensor. Qwen2, Qwen3,
/// Gemma 2, Gemma 3 and Phi-3 keep their own names and rotate halves as Hugging Face does. Gemma's norms are stored
/// as w + 1 (llama.cpp multiplies by the weight itself), and what llama.cpp's Gemma graphs hard-code (the attention
/// scale, the sliding-window layer pattern, Gemma 3's local RoPE base) must match the config or the export is refused.
/// Phi-3's LongRoPE becomes the <c>rope_factors_long</c>/<c>rope_factors_short</c> tensors and its attention factor.
/// </summary>
public sealed partial class GgufArchitecture
{
    private readonly ModelConfig _config;

    private GgufArchitecture(string name, ModelConfig config, bool interleavedRope) =>
        (Name, _config, InterleavedRope) = (name, config, interleavedRope);

    /// <summary>The GGUF <c>general.architecture</c>.</summary>
    public string Name { get; }

    /// <summary>Whether llama.cpp rotates interleaved pairs, so that q/k rows need <see cref="ToInterleavedRope"/>.</summary>
    public bool InterleavedRope { get; }

    /// <summary>The mapping for <paramref name="config"/>'s architecture; other architectures are refused by name.</summary>
    public static GgufArchitecture For(ModelConfig config)
    {
        var arch = config.Architecture switch
        {
            "LlamaForCausalLM" or "MistralForCausalLM" => new GgufArchitecture("llama", config, interleavedRope: true),
            "Qwen2ForCausalLM" => new("qwen2", config, interleavedRope: false),
            "Qwen3ForCausalLM" => new("qwen3", config, interleavedRope: false),
            "Gemma2ForCausalLM" => new("gemma2", config, interleavedRope: false),
            "Gemma3ForCausalLM" => new("gemma3", config, interleavedRope: false),
            "Phi3ForCausalLM" => new("phi3", config, interleavedRope: false),
            var other => throw new InvalidOperationException(
                $"architecture {other} cannot be exported to GGUF (supported: {string.Join(", ", ModelConfig.SupportedArchitectures.Keys)})"),
        };
        arch.RefuseWhatLlamaCppCannotRun();
        return arch;
    }

    /// <summary>llama.cpp's Gemma graphs fix some choices the config could make otherwise; a config that does is refused by key.</summary>
    private void RefuseWhatLlamaCppCannotRun()
    {
        var c = _config;
        if (Name is not ("gemma2" or "gemma3")) return;
        // llama.cpp scales scores by head_dim^-½, except for the 27B models (46 or 62 layers): (hidden / heads)^-½.
        bool is27B = c.NumHiddenLayers == (Name == "gemma2" ? 46 : 62);
        double llamaCppScalar = is27B ? c.HiddenSize / (double)c.NumAttentionHeads : c.HeadDim;
        if (c.QueryPreAttnScalar != llamaCppScalar)
            throw Refused("query_pre_attn_scalar", $"{c.QueryPreAttnScalar}; llama.cpp's {Name} uses {llamaCppScalar} for this shape");
        int pattern = Name == "gemma2" ? 2 : 6;
        var expected = Enumerable.Range(0, c.NumHiddenLayers).Select(i => i % pattern < pattern - 1);
        if (c.SlidingWindow is null || !c.SlidingLayers.SequenceEqual(expected))
            throw Refused("layer_types", $"llama.cpp's {Name} slides every layer but each {Ordinal(pattern)}, with a sliding_window");
        if (Name == "gemma2" && (c.AttnLogitSoftcapping is null || c.FinalLogitSoftcapping is null))
            throw Refused("attn_logit_softcapping", "llama.cpp's gemma2 always soft-caps attention and final logits; both must be set");
        if (Name == "gemma3" && c.AttnLogitSoftcapping is not null)
            throw Refused("attn_logit_softcapping", "llama.cpp's gemma3 has no attention soft-capping");
        if (Name == "gemma3" && c.FinalLogitSoftcapping is not null)
            throw Refused("final_logit_softcapping", "llama.cpp's gemma3 (with sliding windows) does not soft-cap the logits");
        if (Name == "gemma3" && c.LocalRopeTheta != 10000)
            throw Refused("rope_local_base_freq", $"{c.LocalRopeTheta}; llama.cpp's gemma3 uses 10000");
    }

    private static string Ordinal(int n) => n == 2 ? "second" : $"{n}th";

    private InvalidOperationException Refused(string key, string why) =>
        new($"{_config.Architecture} with this '{key}' cannot be exported to GGUF: {why}");

    /// <summary>The hyperparameters under <c>{arch}.*</c> (llama.cpp's <c>LLM_KV_*</c>).</summary>
    public List<KeyValuePair<string, GgufValue>> Hyperparameters()
    {
        var c = _config;
        var list = new List<KeyValuePair<string, GgufValue>>
        {
            new($"{Name}.vocab_size", GgufValue.U32((uint)c.VocabSize)),
            new($"{Name}.context_length", GgufValue.U32((uint)c.MaxPositionEmbeddings)),
            new($"{Name}.embedding_length", GgufValue.U32((uint)c.HiddenSize)),
            new($"{Name}.block_count", GgufValue.U32((uint)c.NumHiddenLayers)),
            new($"{Name}.feed_forward_length", GgufValue.U32((uint)c.IntermediateSize)),
            new($"{Name}.attention.head_count", GgufValue.U32((uint)c.NumAttentionHeads)),
            new($"{Name}.attention.head_count_kv", GgufValue.U32((uint)c.NumKeyValueHeads)),
            new($"{Name}.attention.key_length", GgufValue.U32((uint)c.HeadDim)),
            new($"{Name}.attention.value_length", GgufValue.U32((uint)c.HeadDim)),
            new($"{Name}.rope.dimension_count", GgufValue.U32((uint)c.HeadDim)),
            new($"{Name}.rope.freq_base", GgufValue.F32((float)c.RopeTheta)),
            new($"{Name}.attention.layer_norm_rms_epsilon", GgufValue.F32((float)c.RmsNormEps)),
        };
        if (c.SlidingWindow is int window && Name is "gemma2" or "gemma3" or "phi3")
            list.Add(new($"{Name}.attention.sliding_window", GgufValue.U32((uint)window)));
        if (c.AttnLogitSoftcapping is double attnCap)
            list.Add(new($"{Name}.attn_logit_softcapping", GgufValue.F32((float)attnCap)));
        if (c.FinalLogitSoftcapping is double finalCap)
            list.Add(new($"{Name}.final_logit_softcapping", GgufValue.F32((float)finalCap)));
        switch (c.RopeScaling)
        {
            case null: break;
            case { Type: "linear" } linear:
                list.Add(new($"{Name}.rope.scaling.type", GgufValue.Str("linear")));
                list.Add(new($"{Name}.rope.scaling.factor", GgufValue.F32((float)linear.Factor)));
                break;
            case { Type: "llama3" } when Name == "llama":
                break; // carried by the rope_freqs tensor (ExtraTensors)
            case { Type: "longrope" } longRope when Name == "phi3":
                // The factors travel as the rope_factors_long/short tensors (ExtraTensors); llama.cpp takes the long ones
                // when its context is longer than the original one (convert_hf_to_gguf's Phi3MiniModel).
                list.Add(new($"{Name}.rope.scaling.attn_factor", GgufValue.F32((float)longRope.AttentionFactor)));
                list.Add(new($"{Name}.rope.scaling.original_context_length", GgufValue.U32((uint)longRope.OriginalMaxPositionEmbeddings)));
                break;
            case var other:
                throw new InvalidOperationException($"rope_scaling type '{other.Type}' cannot be exported to GGUF for {c.Architecture}");
        }
        return list;
    }

    /// <summary>
    /// Tensors llama.cpp needs that the model has no parameter for: Llama 3's <c>rope_freqs.weight</c>, the factor each
    /// rotated pair's frequency is divided by (unscaled / scaled inverse frequency; convert_hf_to_gguf's
    /// LlamaModel.generate_extra_tensors); Phi-3's LongRoPE divisors, <c>rope_factors_long/short.weight</c>.
    /// </summary>
    public IEnumerable<(string Name, Tensor Value)> ExtraTensors()
    {
        switch (_config.RopeScaling)
        {
            case { Type: "llama3" } scaling:
                var plain = RotaryEmbedding.InverseFrequencies(_config.HeadDim, _config.RopeTheta, scaling: null);
                var scaled = RotaryEmbedding.InverseFrequencies(_config.HeadDim, _config.RopeTheta, scaling);
                yield return ("rope_freqs.weight", tensor(plain.Zip(scaled, (p, s) => p / s).ToArray()));
                break;
            case { Type: "longrope" } longRope:
                // Phi-3's LongRoPE divisors as they are (Phi3MiniModel.generate_extra_tensors).
                yield return ("rope_factors_long.weight", tensor(longRope.LongFactor.Select(f => (float)f).ToArray()));
                yield return ("rope_factors_short.weight", tensor(longRope.ShortFactor.Select(f => (float)f).ToArray()));
                break;
        }
    }

    /// <summary>
    /// The GGUF name of a Hugging Face parameter (<c>model.layers.3.self_attn.q_proj.weight</c> →
    /// <c>blk.3.attn_q.weight</c>), or null when the architecture has no such tensor.
    /// </summary>
    public string? TensorName(string hfName)
    {
        switch (hfName)
        {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
        }
        var m = LayerParameter().Match(hfName);
        if (!m.Success) return null;
        string? tensor = m.Groups["module"].Value switch
        {
            "input_layernorm" => "attn_norm",
            // In Gemma's sandwich layers this norms the attention output; elsewhere it is the norm before the MLP.
            "post_attention_layernorm" => _config.SandwichNorms ? "post_attention_norm" : "ffn_norm",
            "pre_feedforward_layernorm" => "ffn_norm",
            "post_feedforward_layernorm" => "post_ffw_norm",
            "self_attn.q_proj" => "attn_q",
            "self_attn.k_proj" => "attn_k",
            "self_attn.v_proj" => "attn_v",
            "self_attn.qkv_proj" => "attn_qkv",
            "self_attn.o_proj" => "attn_output",
            "self_attn.q_norm" => "attn_q_norm",
            "self_attn.k_norm" => "attn_k_norm",
            "mlp.gate_proj" => "ffn_gate",
            "mlp.up_proj" => "ffn_up",
            "mlp.gate_up_proj" => "ffn_up", // Phi-3: llama.cpp splits [gate | up] itself
            "mlp.down_proj" => "ffn_down",
            _ => null,
        };
        return tensor is null ? null : $"blk.{m.Groups["layer"].Value}.{tensor}.{m.Groups["kind"].Value}";
    }

    /// <summary>
    /// <paramref name="weight"/> (fp32) as llama.cpp reads the tensor <paramref name="hfName"/>: q/k rows interleaved
    /// for RoPE (<see cref="RopeHeads"/>), Gemma's norm weights as 1 + w.
    /// </summary>
    public Tensor ToGguf(string hfName, Tensor weight)
    {
        if (RopeHeads(hfName) is int heads) return ToInterleavedRope(weight, heads);
        if (_config.NormWeightIsOffset && hfName.EndsWith("norm.weight", StringComparison.Ordinal)) return weight.Plus(1);
        return weight.alias();
    }

    /// <summary>The number of RoPE heads whose rows <paramref name="hfName"/> holds: query heads for q_proj, key/value heads for k_proj, else null.</summary>
    public int? RopeHeads(string hfName) => !InterleavedRope ? null
        : hfName.Contains(".self_attn.q_proj.", StringComparison.Ordinal) ? _config.NumAttentionHeads
        : hfName.Contains(".self_attn.k_proj.", StringComparison.Ordinal) ? _config.NumKeyValueHeads
        : null;

    /// <summary>
    /// Reorders the output rows of a q/k projection (weight [out, in], LoRA B [out, r] or bias [out]) from Hugging Face's
    /// rotate-half layout to llama.cpp's interleaved pairs: per head, the rows [first half | second half] become
    /// [x0, y0, x1, y1, …] (convert_hf_to_gguf's <c>permute</c>: reshape to [heads, 2, head_dim/2, …], swap axes 1 and 2).
    /// </summary>
    public static Tensor ToInterleavedRope(Tensor rows, int heads)
    {
        var shape = rows.shape;
        var grouped = new long[] { heads, 2, shape[0] / heads / 2 }.Concat(shape.Skip(1)).ToArray();
        return rows.reshape(grouped).transpose(1, 2).reshape(shape);
    }

    [GeneratedRegex(@"^model\.layers\.(?<layer>\d+)\.(?<module>[a-z_]+(?:\.[a-z_]+)?)\.(?<kind>weight|bias)$")]
    private static partial Regex LayerParameter();
}
