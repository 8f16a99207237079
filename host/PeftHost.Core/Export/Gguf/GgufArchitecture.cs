using System.Text.RegularExpressions;
using PeftHost.Core.Models;
using static TorchSharp.torch;

namespace PeftHost.Core.Export.Gguf;

/// <summary>
/// How one Hugging Face architecture maps onto a llama.cpp architecture (convert_hf_to_gguf.py's model classes):
/// the GGUF architecture name, the hyperparameter keys, the tensor names and the RoPE row order of q/k.
/// LLaMA and Mistral become <c>llama</c>, whose attention rotates interleaved pairs, so q/k rows are reordered from
/// Hugging Face's rotate-half layout; Qwen2 becomes <c>qwen2</c>, which rotates halves as Hugging Face does.
/// </summary>
public sealed partial class GgufArchitecture
{
    private GgufArchitecture(string name, bool interleavedRope) => (Name, InterleavedRope) = (name, interleavedRope);

    /// <summary>The GGUF <c>general.architecture</c>.</summary>
    public string Name { get; }

    /// <summary>Whether llama.cpp rotates interleaved pairs, so that q/k rows need <see cref="ToInterleavedRope"/>.</summary>
    public bool InterleavedRope { get; }

    /// <summary>The mapping for <paramref name="config"/>'s architecture; other architectures are refused by name.</summary>
    public static GgufArchitecture For(ModelConfig config) => config.Architecture switch
    {
        "LlamaForCausalLM" or "MistralForCausalLM" => new("llama", interleavedRope: true),
        "Qwen2ForCausalLM" => new("qwen2", interleavedRope: false),
        var other => throw new InvalidOperationException($"architecture {other} cannot be exported to GGUF (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)"),
    };

    /// <summary>The hyperparameters under <c>{arch}.*</c> (llama.cpp's <c>LLM_KV_*</c>).</summary>
    public List<KeyValuePair<string, GgufValue>> Hyperparameters(ModelConfig c)
    {
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
        switch (c.RopeScaling)
        {
            case null: break;
            case { Type: "linear" } linear:
                list.Add(new($"{Name}.rope.scaling.type", GgufValue.Str("linear")));
                list.Add(new($"{Name}.rope.scaling.factor", GgufValue.F32((float)linear.Factor)));
                break;
            case var other:
                throw new InvalidOperationException($"rope_scaling type '{other.Type}' cannot be exported to GGUF yet (linear can)");
        }
        return list;
    }

    /// <summary>
    /// The GGUF name of a Hugging Face parameter (<c>model.layers.3.self_attn.q_proj.weight</c> →
    /// <c>blk.3.attn_q.weight</c>), or null when the architecture has no such tensor.
    /// </summary>
    public static string? TensorName(string hfName)
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
            "post_attention_layernorm" => "ffn_norm",
            "self_attn.q_proj" => "attn_q",
            "self_attn.k_proj" => "attn_k",
            "self_attn.v_proj" => "attn_v",
            "self_attn.o_proj" => "attn_output",
            "mlp.gate_proj" => "ffn_gate",
            "mlp.up_proj" => "ffn_up",
            "mlp.down_proj" => "ffn_down",
            _ => null,
        };
        return tensor is null ? null : $"blk.{m.Groups["layer"].Value}.{tensor}.{m.Groups["kind"].Value}";
    }

    /// <summary>The number of RoPE heads whose rows <paramref name="hfName"/> holds: query heads for q_proj, key/value heads for k_proj, else null.</summary>
    public int? RopeHeads(string hfName, ModelConfig c) => !InterleavedRope ? null
        : hfName.Contains(".self_attn.q_proj.", StringComparison.Ordinal) ? c.NumAttentionHeads
        : hfName.Contains(".self_attn.k_proj.", StringComparison.Ordinal) ? c.NumKeyValueHeads
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
