using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Models;

/// <summary>
/// Multi-head self-attention with grouped key/value heads, RoPE and a KV cache, and the families' options: Phi-3's
/// fused qkv_proj (outputs [q | k | v]), per-head q/k RMSNorm before RoPE (Qwen3, Gemma 3), a score scale other than
/// head_dim^-½ and tanh soft-capping of the scores (Gemma). Which positions a query sees (causal, sliding window,
/// padding, prefix) comes from the <see cref="AttentionContext"/> of the layer's kind.
/// </summary>
public sealed class LlamaAttention : HfModule
{
    private static readonly string[] SeparateChildren = ["q_proj", "k_proj", "v_proj", "o_proj"];
    private static readonly string[] FusedChildren = ["qkv_proj", "o_proj"];
    private nn.Module<Tensor, Tensor>? _q, _k, _v, _qkv;
    private nn.Module<Tensor, Tensor> _o;
    private readonly RmsNorm? _qNorm, _kNorm;
    private readonly int _heads, _kvHeads, _headDim, _layerIndex;
    private readonly double _scale;
    private readonly double? _softcap;

    /// <summary>Builds the projections for layer <paramref name="layerIndex"/>.</summary>
    public LlamaAttention(ModelConfig config, ParameterFactory factory, int layerIndex) : base("self_attn")
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        _layerIndex = layerIndex;
        _scale = config.AttentionScale;
        _softcap = config.AttnLogitSoftcapping;
        if (config.FusedProjections)
        {
            _qkv = factory.Linear(config.HiddenSize, _heads * _headDim + 2L * config.KvDim, config.QkvBias);
            register_module("qkv_proj", _qkv);
        }
        else
        {
            _q = factory.Linear(config.HiddenSize, _heads * _headDim, config.QkvBias);
            _k = factory.Linear(config.HiddenSize, config.KvDim, config.QkvBias);
            _v = factory.Linear(config.HiddenSize, config.KvDim, config.QkvBias);
            register_module("q_proj", _q);
            register_module("k_proj", _k);
            register_module("v_proj", _v);
        }
        _o = factory.Linear(_heads * _headDim, config.HiddenSize, config.OutputBias);
        register_module("o_proj", _o);
        if (config.QkNorm)
        {
            _qNorm = new RmsNorm(factory, _headDim, config);
            _kNorm = new RmsNorm(factory, _headDim, config);
            register_module("q_norm", _qNorm);
            register_module("k_norm", _kNorm);
        }
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> ReplaceableChildren => _qkv is null ? SeparateChildren : FusedChildren;

    /// <inheritdoc />
    protected override void SetChild(string childName, nn.Module<Tensor, Tensor> module)
    {
        switch (childName)
        {
            case "q_proj": _q = module; break;
            case "k_proj": _k = module; break;
            case "v_proj": _v = module; break;
            case "qkv_proj": _qkv = module; break;
            case "o_proj": _o = module; break;
        }
    }

    internal Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var (q, k, v) = Project(x);
        q = q.reshape(b, t, _heads, _headDim);
        k = k.reshape(b, t, _kvHeads, _headDim);
        if (_qNorm is not null) q = _qNorm.forward(q);
        if (_kNorm is not null) k = _kNorm.forward(k);
        q = RotaryEmbedding.Apply(q.transpose(1, 2), ctx.Cos, ctx.Sin);
        k = RotaryEmbedding.Apply(k.transpose(1, 2), ctx.Cos, ctx.Sin);
        v = v.reshape(b, t, _kvHeads, _headDim).transpose(1, 2);

        if (ctx.Prefix is not null)
        {
            var (pk, pv) = ctx.Prefix.ForLayer(_layerIndex);
            if (ctx.Cache is null)
            {
                k = cat([pk.to(k.dtype), k], 2);
                v = cat([pv.to(v.dtype), v], 2);
            }
            else ctx.Cache.Write(_layerIndex, 0, pk, pv);
        }
        if (ctx.Cache is not null)
            (k, v) = ctx.Cache.Write(_layerIndex, ctx.CacheOffset, k, v);

        if (_kvHeads != _heads && _softcap is null && t == 1 && !ctx.IsCausal && (ctx.Mask is null || ctx.Mask.shape[1] == 1 && ctx.Mask.shape[2] == 1))
        {
            // Grouped-query attention decoding one token: the heads/kvHeads query heads that share a key/value head
            // become that head's rows of queries, so the cache is read in place instead of copied heads/kvHeads
            // times into a new tensor in every layer at every step. Exact: the same dot products, and a mask of
            // one row per sequence ([b, 1, 1, s]) applies to every query row alike.
            int group = _heads / _kvHeads;
            var grouped = FusedAttention(q.reshape(b, _kvHeads, group, _headDim), k, v, ctx);
            return FloatMatVec.Forward(_o, grouped.reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope();
        }
        if (_kvHeads != _heads)
        {
            // Grouped-query attention: each key/value head serves heads/kvHeads query heads.
            int rep = _heads / _kvHeads;
            long s = k.shape[2];
            k = k.unsqueeze(2).expand(b, _kvHeads, rep, s, _headDim).reshape(b, _heads, s, _headDim);
            v = v.unsqueeze(2).expand(b, _kvHeads, rep, s, _headDim).reshape(b, _heads, s, _headDim);
        }
        var attn = _softcap is double cap ? SoftCappedAttention(q, k, v, ctx, cap, _scale) : FusedAttention(q, k, v, ctx);
        var merged = attn.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return FloatMatVec.Forward(_o, merged).MoveToOuterDisposeScope();
    }

    private (Tensor Q, Tensor K, Tensor V) Project(Tensor x)
    {
        if (_qkv is null) return (FloatMatVec.Forward(_q!, x), FloatMatVec.Forward(_k!, x), FloatMatVec.Forward(_v!, x));
        var qkv = FloatMatVec.Forward(_qkv, x);
        long qWidth = (long)_heads * _headDim, kvWidth = (long)_kvHeads * _headDim;
        return (qkv.narrow(-1, 0, qWidth), qkv.narrow(-1, qWidth, kvWidth), qkv.narrow(-1, qWidth + kvWidth, kvWidth));
    }

    /// <summary>PyTorch's fused attention, which scales by head_dim^-½: another scale is folded into the queries.</summary>
    private Tensor FusedAttention(Tensor q, Tensor k, Tensor v, AttentionContext ctx)
    {
        double defaultScale = 1 / Math.Sqrt(_headDim);
        if (Math.Abs(_scale - defaultScale) > 1e-12 * defaultScale) q = q.Times(_scale / defaultScale);
        return F.scaled_dot_product_attention(q, k, v, ctx.Mask, 0.0, ctx.IsCausal);
    }

    /// <summary>
    /// Gemma 2's attention: scores scaled, then soft-capped as cap·tanh(score/cap) before masking, softmax in fp32
    /// (as Hugging Face's eager attention computes it; the fused kernel has no soft-capping).
    /// </summary>
    private static Tensor SoftCappedAttention(Tensor q, Tensor k, Tensor v, AttentionContext ctx, double cap, double scale)
    {
        var scores = matmul(q, k.transpose(-2, -1)).Times(scale);
        scores = scores.DividedBy(cap).tanh().Times(cap);
        var mask = ctx.Mask;
        if (mask is null && ctx.IsCausal)
            mask = ones(scores.shape[^2], scores.shape[^1], ScalarType.Bool, scores.device).tril();
        if (mask is not null)
        {
            using var negativeInfinity = double.NegativeInfinity.ToScalar();
            scores = scores.masked_fill(mask.logical_not(), negativeInfinity);
        }
        var probs = scores.to(ScalarType.Float32).softmax(-1).to(q.dtype);
        return matmul(probs, v);
    }
}
