using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.IA3;

/// <summary>
/// A linear layer with (IA)³ vectors, PEFT's <c>ia3.Linear</c>: the wrapped layer is the child <c>base_layer</c>;
/// per adapter, <c>ia3_l.{name}</c> is [out, 1] (the output is scaled) or, for a feed-forward layer, [1, in]
/// (the input is scaled).
/// </summary>
/// <remarks>
/// The active adapters' vectors multiply (PEFT's <c>ia3_scaling *= ia3_l</c>); merged adapters live in the base
/// weight and are skipped. Inside a disable-adapters scope only the base runs (merged adapters are unmerged first,
/// as PEFT does). With per-row adapter names each row gets its own vector (ones for the base model).
/// </remarks>
public sealed class IA3Layer : LinearTunerLayer
{
    /// <summary>PEFT's tolerance added to the vector when unmerging (division).</summary>
    public const double UnmergeEpsilon = 1e-8;

    private readonly AdapterParameterDict _vectors = new("ia3_l");
    private readonly List<string> _adapters = [];

    /// <summary>Wraps <paramref name="baseLayer"/> (a <see cref="Linear"/> or an <see cref="ILinearLayer"/>).</summary>
    public IA3Layer(nn.Module baseLayer, bool isFeedforward, IAdapterRouting routing) : base("ia3.Linear", "IA3", baseLayer, routing)
    {
        IsFeedforward = isFeedforward;
        register_module("ia3_l", _vectors);
    }

    /// <summary>True when the input is scaled ([1, in] vectors), false when the output is ([out, 1]).</summary>
    public bool IsFeedforward { get; }

    /// <inheritdoc />
    public override IReadOnlyList<string> AdapterNames => _adapters;

    /// <inheritdoc />
    public override bool HasAdapter(string adapter) => _adapters.Contains(adapter);

    /// <summary>The vector of <paramref name="adapter"/>: [out, 1], or [1, in] for a feed-forward layer.</summary>
    public Parameter Vector(string adapter) => _vectors[adapter];

    /// <summary>The vector shape of this layer.</summary>
    public long[] VectorShape => IsFeedforward ? [1, InFeatures] : [OutFeatures, 1];

    /// <summary>Adds <paramref name="adapter"/> (float32): ones with <paramref name="initOnes"/>, else N(0, 1) as PEFT's <c>torch.randn</c>.</summary>
    public void AddAdapter(string adapter, bool initOnes, Device device, bool trainable)
    {
        EnsureNewAdapter(adapter);
        Tensor v = device.type == DeviceType.META || initOnes
            ? ones(VectorShape, ScalarType.Float32, device)
            : randn(VectorShape, ScalarType.Float32, device);
        _vectors.Set(adapter, new Parameter(v, trainable));
        _adapters.Add(adapter);
    }

    /// <inheritdoc />
    protected override void DropAdapter(string adapter, bool keepMerged)
    {
        _vectors.Remove(adapter);
        _adapters.Remove(adapter);
    }

    /// <summary>
    /// Folds <paramref name="adapter"/> into the base: W ← W ⊙ l (rows scaled for [out, 1], columns for [1, in]);
    /// for an output-scaled layer a bias is scaled too.
    /// </summary>
    public override void Merge(string adapter)
    {
        if (!_adapters.Contains(adapter) || Merged.Contains(adapter)) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var l = Vector(adapter).detach().to(ScalarType.Float32);
        var w = LinearLayers.ReadWeight(BaseLayer, ScalarType.Float32);
        LinearLayers.WriteWeight(BaseLayer, w * l.to(w.device));
        if (!IsFeedforward && BaseBias() is { } bias) bias.mul_(l.reshape(bias.shape).to(bias.dtype, bias.device));
        Merged.Add(adapter);
    }

    /// <summary>Takes <paramref name="adapter"/> back out: W ← W / (l + 1e-8) (PEFT warns this can be inexact).</summary>
    public override void Unmerge(string adapter)
    {
        if (!Merged.Remove(adapter)) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var l = Vector(adapter).detach().to(ScalarType.Float32).Plus(UnmergeEpsilon);
        var w = LinearLayers.ReadWeight(BaseLayer, ScalarType.Float32);
        LinearLayers.WriteWeight(BaseLayer, w / l.to(w.device));
        if (!IsFeedforward && BaseBias() is { } bias) bias.div_(l.reshape(bias.shape).to(bias.dtype, bias.device));
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor result;
        if (Routing.AdaptersDisabled) result = DisabledForward(x);
        else if (Routing.RowAdapterNames is { } rows)
        {
            result = MixedBatchForward(x, rows);
        }
        else
        {
            Tensor? scaling = null;
            foreach (var name in Routing.ActiveAdapters)
            {
                if (!_adapters.Contains(name) || Merged.Contains(name)) continue;
                var v = _vectors[name].flatten();
                scaling = scaling is null ? v : scaling * v;
            }
            result = Apply(x, scaling);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Each row scaled by its own adapter's vector (ones for rows without an adapter on this layer).</summary>
    private Tensor MixedBatchForward(Tensor x, IReadOnlyList<string> rows)
    {
        CheckRowAdapterCount(rows, x);
        if (!rows.Any(_adapters.Contains)) return BaseLayer.forward(x);
        if (Merged.Count > 0) throw new InvalidOperationException("mixed-adapter batches need unmerged adapters; unmerge first");
        long size = IsFeedforward ? InFeatures : OutFeatures;
        var identity = ones([size], ScalarType.Float32, x.device);
        var perRow = stack(rows.Select(r => _adapters.Contains(r) ? _vectors[r].flatten() : identity).ToArray(), 0); // [B, size]
        var shape = new long[x.dim()];
        Array.Fill(shape, 1L);
        shape[0] = x.shape[0];
        shape[^1] = size;
        return Apply(x, perRow.view(shape));
    }

    /// <summary>base(x ⊙ s) for a feed-forward layer, base(x) ⊙ s otherwise; base(x) when <paramref name="scaling"/> is null.</summary>
    private Tensor Apply(Tensor x, Tensor? scaling)
    {
        if (scaling is null) return BaseLayer.forward(x);
        if (scaling.dtype != x.dtype) scaling = scaling.to(x.dtype);
        if (IsFeedforward) return BaseLayer.forward(x * scaling);
        var output = BaseLayer.forward(x);
        return output * (scaling.dtype == output.dtype ? scaling : scaling.to(output.dtype));
    }

    private Tensor? BaseBias() => BaseLayer switch
    {
        Linear l => l.bias,
        ILinearLayer q => q.Bias,
        _ => null,
    };
}
