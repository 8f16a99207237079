using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>One pre-norm decoder block: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
public sealed class LlamaDecoderLayer : PeftHost.Sdk.CanonicalModule
{
    private readonly RmsNorm _inputNorm, _postAttentionNorm;

    /// <summary>Builds layer <paramref name="layerIndex"/>.</summary>
    public LlamaDecoderLayer(ModelConfig config, ParameterFactory factory, int layerIndex) : base($"layers.{layerIndex}")
    {
        SelfAttention = new LlamaAttention(config, factory, layerIndex);
        Mlp = new LlamaMlp(config, factory);
        _inputNorm = new RmsNorm(factory, config.HiddenSize, config.RmsNormEps);
        _postAttentionNorm = new RmsNorm(factory, config.HiddenSize, config.RmsNormEps);
        register_module("self_attn", SelfAttention);
        register_module("mlp", Mlp);
        register_module("input_layernorm", _inputNorm);
        register_module("post_attention_layernorm", _postAttentionNorm);
    }

    /// <summary>The attention block.</summary>
    public LlamaAttention SelfAttention { get; }

    /// <summary>The feed-forward block.</summary>
    public LlamaMlp Mlp { get; }

    internal Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        var h = x + SelfAttention.Forward(_inputNorm.forward(x), ctx);
        return (h + Mlp.Forward(_postAttentionNorm.forward(h))).MoveToOuterDisposeScope();
    }
}
