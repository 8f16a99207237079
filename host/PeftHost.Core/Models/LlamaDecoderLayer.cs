using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>
/// One pre-norm decoder block: x + attn(norm(x)), then h + mlp(norm(h)). Gemma's "sandwich" variant norms each
/// sub-block's output as well: h = x + norm(attn(norm(x))), then h + norm(mlp(norm(h))). The names follow Hugging
/// Face: in LLaMA post_attention_layernorm is the norm before the MLP; in Gemma it norms the attention output and
/// pre_/post_feedforward_layernorm surround the MLP.
/// </summary>
public sealed class LlamaDecoderLayer : PeftHost.Sdk.CanonicalModule
{
    private readonly RmsNorm _inputNorm, _postAttentionNorm;
    private readonly RmsNorm? _preFeedforwardNorm, _postFeedforwardNorm;

    /// <summary>Builds layer <paramref name="layerIndex"/>.</summary>
    public LlamaDecoderLayer(ModelConfig config, ParameterFactory factory, int layerIndex) : base($"layers.{layerIndex}")
    {
        SelfAttention = new LlamaAttention(config, factory, layerIndex);
        Mlp = new LlamaMlp(config, factory);
        _inputNorm = new RmsNorm(factory, config.HiddenSize, config);
        _postAttentionNorm = new RmsNorm(factory, config.HiddenSize, config);
        register_module("self_attn", SelfAttention);
        register_module("mlp", Mlp);
        register_module("input_layernorm", _inputNorm);
        register_module("post_attention_layernorm", _postAttentionNorm);
        if (config.SandwichNorms)
        {
            _preFeedforwardNorm = new RmsNorm(factory, config.HiddenSize, config);
            _postFeedforwardNorm = new RmsNorm(factory, config.HiddenSize, config);
            register_module("pre_feedforward_layernorm", _preFeedforwardNorm);
            register_module("post_feedforward_layernorm", _postFeedforwardNorm);
        }
    }

    /// <summary>The attention block.</summary>
    public LlamaAttention SelfAttention { get; }

    /// <summary>The feed-forward block.</summary>
    public LlamaMlp Mlp { get; }

    internal Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        if (_preFeedforwardNorm is null || _postFeedforwardNorm is null)
        {
            var h = x.Plus(SelfAttention.Forward(_inputNorm.forward(x), ctx));
            return h.Plus(Mlp.Forward(_postAttentionNorm.forward(h))).MoveToOuterDisposeScope();
        }
        var sandwiched = x.Plus(_postAttentionNorm.forward(SelfAttention.Forward(_inputNorm.forward(x), ctx)));
        return sandwiched.Plus(_postFeedforwardNorm.forward(Mlp.Forward(_preFeedforwardNorm.forward(sandwiched)))).MoveToOuterDisposeScope();
    }
}
