using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Plugins.AdaLora;

/// <summary>The per-adapter settings of one <see cref="AdaLoraLayer"/>.</summary>
/// <param name="Scaling">alpha (or r when alpha ≤ 0): PEFT's <c>scaling</c>.</param>
/// <param name="RankNum">The value of <c>ranknum</c>: the initial rank, kept when the adapter is pruned.</param>
/// <param name="Dropout">Dropout probability on the branch input.</param>
/// <param name="Config">The adapter's config (PEFT allows one trainable AdaLoRA adapter per model).</param>
public sealed record AdaLoraSettings(double Scaling, double RankNum, double Dropout, AdaLoraConfig Config)
{
    /// <summary>The factor the branch is multiplied by: scaling / (ranknum + 1e-5).</summary>
    public double Factor => Scaling / (RankNum + 1e-5);
}

/// <summary>
/// A linear layer with AdaLoRA adapters, PEFT's <c>adalora.SVDLinear</c>: the wrapped layer is the child
/// <c>base_layer</c>; per adapter, <c>lora_A.{name}</c> [r, in] (right singular vectors), <c>lora_E.{name}</c> [r, 1]
/// (singular values), <c>lora_B.{name}</c> [out, r] (left singular vectors) and the frozen <c>ranknum.{name}</c> [1].
/// </summary>
/// <remarks>
/// h = base(x) + dropout(x)·(A ⊙ E)ᵀ·Bᵀ · scaling/(ranknum + 1e-5) for each active adapter that is not merged.
/// Inside a disable-adapters scope only the base runs (merged adapters are unmerged first, as PEFT does).
/// Mixed-adapter batches are refused when a row asks for one of this layer's adapters.
/// </remarks>
public sealed class AdaLoraLayer : LinearTunerLayer<AdaLoraSettings>
{
    private readonly AdapterParameterDict _loraA = new("lora_A");
    private readonly AdapterParameterDict _loraE = new("lora_E");
    private readonly AdapterParameterDict _loraB = new("lora_B");
    private readonly AdapterParameterDict _rankNum = new("ranknum");

    /// <summary>Wraps <paramref name="baseLayer"/> (a <see cref="Linear"/> or an <see cref="ILinearLayer"/>).</summary>
    public AdaLoraLayer(nn.Module baseLayer, IAdapterRouting routing) : base("adalora.SVDLinear", "AdaLoRA", baseLayer, routing)
    {
        register_module("lora_A", _loraA);
        register_module("lora_E", _loraE);
        register_module("lora_B", _loraB);
        register_module("ranknum", _rankNum);
    }

    /// <inheritdoc />
    public override IReadOnlyCollection<string> AdapterNames => AdapterSettings.Keys;

    /// <summary>lora_A [r, in].</summary>
    public Parameter LoraA(string adapter) => _loraA[adapter];

    /// <summary>lora_E [r, 1].</summary>
    public Parameter LoraE(string adapter) => _loraE[adapter];

    /// <summary>lora_B [out, r].</summary>
    public Parameter LoraB(string adapter) => _loraB[adapter];

    /// <summary>ranknum [1] (frozen).</summary>
    public Parameter RankNum(string adapter) => _rankNum[adapter];

    /// <summary>The current rank (rows of lora_A) of <paramref name="adapter"/>.</summary>
    public int Rank(string adapter) => (int)_loraA[adapter].shape[0];

    /// <summary>
    /// Adds <paramref name="adapter"/> with <paramref name="rank"/> triplets (float32, on <paramref name="device"/>):
    /// with <paramref name="initWeights"/> E = 0 and A, B ~ N(0, 0.02), otherwise all ~ N(0, 1). ranknum holds
    /// <paramref name="settings"/>' RankNum.
    /// </summary>
    public void AddAdapter(string adapter, int rank, AdaLoraSettings settings, bool initWeights, Device device, bool trainable, Generator? generator = null)
    {
        EnsureNewAdapter(adapter);
        if (rank < 0) throw new ArgumentOutOfRangeException(nameof(rank), $"rank must not be negative, got {rank}");
        var a = empty([rank, InFeatures], ScalarType.Float32, device);
        var e = empty([rank, 1], ScalarType.Float32, device);
        var b = empty([OutFeatures, rank], ScalarType.Float32, device);
        using var rankNumValue = settings.RankNum.ToScalar();
        var rankNum = full([1], rankNumValue, ScalarType.Float32, device);
        if (device.type != DeviceType.META)
        {
            using var _ = no_grad();
            double std = initWeights ? 0.02 : 1.0;
            a.normal_(0, std, generator);
            b.normal_(0, std, generator);
            if (initWeights) e.zero_();
            else e.normal_(0, 1, generator);
        }
        _loraA.Set(adapter, new Parameter(a, trainable));
        _loraE.Set(adapter, new Parameter(e, trainable));
        _loraB.Set(adapter, new Parameter(b, trainable));
        _rankNum.Set(adapter, new Parameter(rankNum, requires_grad: false));
        AdapterSettings[adapter] = settings;
    }

    /// <inheritdoc />
    protected override void DisposeAdapter(string adapter, AdaLoraSettings settings, bool keepMerged)
    {
        _loraA.Remove(adapter);
        _loraE.Remove(adapter);
        _loraB.Remove(adapter);
        _rankNum.Remove(adapter);
    }

    /// <summary>ΔW = B·(A ⊙ E)·scaling/(ranknum + 1e-5) [out, in] in float32.</summary>
    protected override Tensor ComputeDeltaWeight(string adapter, AdaLoraSettings settings)
    {
        var a = LoraA(adapter).detach().to(ScalarType.Float32);
        var e = LoraE(adapter).detach().to(ScalarType.Float32);
        var b = LoraB(adapter).detach().to(ScalarType.Float32);
        return b.matmul(a * e).Times(settings.Factor);
    }

    /// <summary>Folds <paramref name="adapter"/> into the base weight (W += ΔW).</summary>
    public override void Merge(string adapter)
    {
        if (!AdapterSettings.ContainsKey(adapter) || Merged.Contains(adapter)) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = LinearLayers.ReadWeight(BaseLayer, ScalarType.Float32);
        LinearLayers.WriteWeight(BaseLayer, w.Plus(DeltaWeight(adapter)));
        Merged.Add(adapter);
    }

    /// <summary>Takes <paramref name="adapter"/> back out of the base weight (W −= ΔW).</summary>
    public override void Unmerge(string adapter)
    {
        if (!Merged.Remove(adapter)) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = LinearLayers.ReadWeight(BaseLayer, ScalarType.Float32);
        LinearLayers.WriteWeight(BaseLayer, w - DeltaWeight(adapter));
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor result;
        if (Routing.AdaptersDisabled) result = DisabledForward(x);
        else if (Routing.RowAdapterNames is { } rows)
        {
            var mine = rows.Where(AdapterSettings.ContainsKey).Distinct().ToArray();
            if (mine.Length > 0)
                throw new InvalidOperationException($"AdaLoRA adapters ({string.Join(", ", mine)}) cannot serve mixed-adapter batches");
            result = BaseLayer.forward(x);
        }
        else
        {
            result = BaseLayer.forward(x);
            foreach (var name in Routing.ActiveAdapters)
            {
                if (!AdapterSettings.TryGetValue(name, out var s) || Merged.Contains(name)) continue;
                var a = Cast(_loraA[name], x.dtype);
                var e = Cast(_loraE[name], x.dtype);
                var b = Cast(_loraB[name], x.dtype);
                var input = s.Dropout > 0 && training ? F.dropout(x, s.Dropout, true) : x;
                var delta = F.linear(F.linear(input, a * e), b).Times(s.Factor);
                result = result.Plus(delta.dtype == result.dtype ? delta : delta.to(result.dtype));
            }
        }
        return result.MoveToOuterDisposeScope();
    }

    private static Tensor Cast(Tensor t, ScalarType dtype) => t.dtype == dtype ? t : t.to(dtype);
}
