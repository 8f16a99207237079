using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Models;

/// <summary>Multi-head self-attention with grouped key/value heads, RoPE and a KV cache.</summary>
public sealed class LlamaAttention : HfModule
{
    private static readonly string[] Children = ["q_proj", "k_proj", "v_proj", "o_proj"];
    private nn.Module<Tensor, Tensor> _q, _k, _v, _o;
    private readonly int _heads, _kvHeads, _headDim, _layerIndex;

    /// <summary>Builds the projections for layer <paramref name="layerIndex"/>.</summary>
    public LlamaAttention(ModelConfig config, ParameterFactory factory, int layerIndex) : base("self_attn")
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        _layerIndex = layerIndex;
        _q = factory.Linear(config.HiddenSize, _heads * _headDim, config.QkvBias);
        _k = factory.Linear(config.HiddenSize, config.KvDim, config.QkvBias);
        _v = factory.Linear(config.HiddenSize, config.KvDim, config.QkvBias);
        _o = factory.Linear(_heads * _headDim, config.HiddenSize, config.OutputBias);
        register_module("q_proj", _q);
        register_module("k_proj", _k);
        register_module("v_proj", _v);
        register_module("o_proj", _o);
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> ReplaceableChildren => Children;

    /// <inheritdoc />
    protected override void SetChild(string childName, nn.Module<Tensor, Tensor> module)
    {
        switch (childName)
        {
            case "q_proj": _q = module; break;
            case "k_proj": _k = module; break;
            case "v_proj": _v = module; break;
            case "o_proj": _o = module; break;
        }
    }

    internal Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = _q.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);
        var k = _k.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        var v = _v.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, ctx.Cos, ctx.Sin);
        k = RotaryEmbedding.Apply(k, ctx.Cos, ctx.Sin);

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

        if (_kvHeads != _heads)
        {
            // Grouped-query attention: each key/value head serves heads/kvHeads query heads.
            int rep = _heads / _kvHeads;
            long s = k.shape[2];
            k = k.unsqueeze(2).expand(b, _kvHeads, rep, s, _headDim).reshape(b, _heads, s, _headDim);
            v = v.unsqueeze(2).expand(b, _kvHeads, rep, s, _headDim).reshape(b, _heads, s, _headDim);
        }
        var attn = F.scaled_dot_product_attention(q, k, v, ctx.Mask, 0.0, ctx.IsCausal);
        var merged = attn.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return _o.forward(merged).MoveToOuterDisposeScope();
    }
}
