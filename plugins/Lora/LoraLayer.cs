using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Plugins.Lora;

/// <summary>The per-adapter hyper-parameters of one <see cref="LoraLayer"/> (PEFT's <c>r</c>, <c>lora_alpha</c>, <c>scaling</c>, … dicts).</summary>
/// <param name="Rank">The rank r.</param>
/// <param name="Alpha">lora_alpha for this layer (after <c>alpha_pattern</c>).</param>
/// <param name="Scaling">alpha/r, or alpha/√r with rsLoRA.</param>
/// <param name="Dropout">Dropout probability on the LoRA branch's input.</param>
/// <param name="UseDora">True for a DoRA adapter (it has a magnitude vector).</param>
public sealed record LoraAdapterSettings(int Rank, double Alpha, double Scaling, double Dropout, bool UseDora);

/// <summary>
/// A linear layer with LoRA adapters, PEFT's <c>lora.Linear</c>: the wrapped layer is the child
/// <c>base_layer</c>; per adapter, <c>lora_A.{name}</c> [r, in] and <c>lora_B.{name}</c> [out, r] are linear
/// layers without bias, and DoRA adapters add <c>lora_magnitude_vector.{name}.weight</c> [out].
/// </summary>
/// <remarks>
/// Forward: h = base(x) + Σ_active scaling·B·A·dropout(x), computed in x's dtype (no dropout op at p = 0 or in
/// eval mode). With <see cref="IAdapterRouting.RowAdapterNames"/> each row takes its own adapter
/// (<c>__base__</c> for none), computed per distinct adapter on its rows (PEFT's <c>_mixed_batch_forward</c>).
/// Inside a disable-adapters scope only the base runs (merged adapters are unmerged first, as PEFT does). Merged
/// adapters live in the base weight, so only active adapters that are not merged add a branch.
/// </remarks>
public sealed class LoraLayer : LinearTunerLayer<LoraAdapterSettings>
{
    private readonly AdapterModuleDict _loraA = new("lora_A");
    private readonly AdapterModuleDict _loraB = new("lora_B");
    private readonly AdapterModuleDict _magnitude = new("lora_magnitude_vector");
    private readonly Dictionary<string, ILoraVariant> _variants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Tensor A, Tensor B)> _initialFactors = new(StringComparer.Ordinal);

    /// <summary>Wraps <paramref name="baseLayer"/> (a <see cref="Linear"/> or an <see cref="ILinearLayer"/>).</summary>
    /// <param name="baseLayer">The layer to adapt; it becomes the child <c>base_layer</c>.</param>
    /// <param name="routing">The model's routing state, read on every forward pass.</param>
    public LoraLayer(nn.Module baseLayer, IAdapterRouting routing) : base("lora.Linear", "LoRA", baseLayer, routing)
    {
        register_module("lora_A", _loraA);
        register_module("lora_B", _loraB);
        register_module("lora_magnitude_vector", _magnitude);
    }

    /// <summary>The adapters on this layer, in the order they were added.</summary>
    public override IReadOnlyList<string> AdapterNames => _loraA.Names;

    /// <summary>lora_A's weight [r, in] for <paramref name="adapter"/>.</summary>
    public Parameter LoraA(string adapter) => ((Linear)_loraA[adapter]).weight!;

    /// <summary>lora_B's weight [out, r] for <paramref name="adapter"/>.</summary>
    public Parameter LoraB(string adapter) => ((Linear)_loraB[adapter]).weight!;

    /// <summary>DoRA's magnitude vector [out] for <paramref name="adapter"/>, or null for a plain LoRA adapter.</summary>
    public Parameter? Magnitude(string adapter) => _magnitude.Contains(adapter) ? ((DoraMagnitude)_magnitude[adapter]).Weight : null;

    /// <summary>The DoRA magnitude vectors by adapter (PEFT's <c>lora_magnitude_vector</c>), kept by <see cref="DoraVariant"/>.</summary>
    internal AdapterModuleDict MagnitudeVectors => _magnitude;

    /// <summary>
    /// Adds adapter <paramref name="adapter"/>: creates A [r, in] and B [out, r] on <paramref name="device"/> in
    /// <paramref name="dtype"/>, initialises them as <paramref name="init"/> says (PiSSA/OLoRA rewrite the base
    /// weight) and lets the adapter's variant (DoRA) set up its own tensors.
    /// </summary>
    public void AddAdapter(string adapter, LoraAdapterSettings settings, LoraInitKind init, Device device, ScalarType dtype, bool trainable)
    {
        EnsureNewAdapter(adapter);
        if (settings.Rank <= 0) throw new ArgumentOutOfRangeException(nameof(settings), $"r must be positive, got {settings.Rank}");

        var a = new Parameter(empty([settings.Rank, InFeatures], dtype, device), trainable);
        var b = new Parameter(empty([OutFeatures, settings.Rank], dtype, device), trainable);
        if (device.type != DeviceType.META)
        {
            LoraInitializer.Initialise(init, a, b, BaseLayer, settings.Rank, settings.Scaling);
            // PiSSA/OLoRA left W − scaling·B₀·A₀ in the base: keep B₀, A₀ so removal can give W back.
            if (init is LoraInitKind.Pissa or LoraInitKind.Olora)
                _initialFactors[adapter] = (a.detach().clone(), b.detach().clone());
        }
        _loraA.Add(adapter, nn.Linear(a, null));
        _loraB.Add(adapter, nn.Linear(b, null));
        if (ResolveVariant(settings) is { } variant)
        {
            variant.Init(this, adapter, settings, a, b, dtype, trainable);
            _variants[adapter] = variant;
        }
        AdapterSettings[adapter] = settings;
    }

    /// <summary>
    /// Disposes <paramref name="adapter"/>'s tensors (its variant's too).
    /// A PiSSA/OLoRA adapter gives the base weight its original value back (W_res + scaling·B₀·A₀), unless
    /// <paramref name="keepMerged"/> is true: the base weight then keeps whatever it holds (merged deltas,
    /// residuals), which is what merge-and-unload wants.
    /// </summary>
    protected override void DisposeAdapter(string adapter, LoraAdapterSettings settings, bool keepMerged)
    {
        if (_variants.Remove(adapter, out var variant)) variant.Drop(this, adapter);
        if (_initialFactors.Remove(adapter, out var initial))
        {
            using (initial.A)
            using (initial.B)
            {
                if (!keepMerged)
                {
                    using var _ = no_grad();
                    using var scope = NewDisposeScope();
                    var w = LinearLayers.ReadWeight(BaseLayer, ScalarType.Float32);
                    var b0 = initial.B.to(ScalarType.Float32, w.device);
                    var a0 = initial.A.to(ScalarType.Float32, w.device);
                    WriteBase(w.Plus(b0.matmul(a0).Times(settings.Scaling)));
                }
            }
        }
        _loraA.Remove(adapter)?.Dispose();
        _loraB.Remove(adapter)?.Dispose();
    }

    /// <summary>ΔW = scaling·B·A [out, in] for <paramref name="adapter"/>, in float32.</summary>
    protected override Tensor ComputeDeltaWeight(string adapter, LoraAdapterSettings settings)
    {
        var a = LoraA(adapter).detach().to(ScalarType.Float32);
        var b = LoraB(adapter).detach().to(ScalarType.Float32);
        return b.matmul(a).Times(settings.Scaling);
    }

    /// <summary>
    /// Folds <paramref name="adapters"/> (default: the active adapters on this layer that are not merged yet) into
    /// the base weight: W += scaling·B·A, or as the adapter's variant merges (DoRA: W ← (m/‖W + ΔW‖)·(W + ΔW)).
    /// </summary>
    public void Merge(IEnumerable<string>? adapters = null)
    {
        var names = (adapters ?? Routing.ActiveAdapters).Where(n => AdapterSettings.ContainsKey(n) && !Merged.Contains(n)).ToList();
        if (names.Count == 0) return;
        using var _ = no_grad();
        foreach (var name in names)
        {
            using var scope = NewDisposeScope();
            var delta = DeltaWeight(name);
            var w = LinearLayers.ReadWeight(BaseLayer, ScalarType.Float32);
            var merged = _variants.TryGetValue(name, out var variant) ? variant.Merge(this, name, w, delta) : w.Plus(delta);
            // PEFT's safe_merge, always on: an overflowing merge (a huge scaling) must not leave an infinite weight behind.
            if (!merged.isfinite().all().item<bool>())
                throw new InvalidOperationException($"merging adapter '{name}' would make a weight NaN or infinite (its scaling is {AdapterSettings[name].Scaling:G3}); the weight is left unmerged");
            WriteBase(merged);
            Merged.Add(name);
        }
    }

    /// <summary>Folds <paramref name="adapter"/> into the base weight, as <see cref="Merge(IEnumerable{string})"/> does.</summary>
    public override void Merge(string adapter) => Merge([adapter]);

    /// <summary>Takes every merged adapter back out of the base weight, last merged first.</summary>
    public void UnmergeAll()
    {
        while (Merged.Count > 0) Unmerge(Merged[^1]);
    }

    /// <summary>
    /// Takes <paramref name="adapter"/> back out of the base weight (W −= ΔW, or as its variant unmerges). An adapter
    /// with a variant, or one merged before such an adapter, must be the last merged one (DoRA's rescaling does not commute).
    /// </summary>
    public override void Unmerge(string adapter)
    {
        int position = Merged.IndexOf(adapter);
        if (position < 0) return;
        bool laterVariant = Merged.Skip(position + 1).Any(_variants.ContainsKey);
        if (laterVariant || (_variants.ContainsKey(adapter) && position != Merged.Count - 1))
            throw new InvalidOperationException(
                $"adapter '{adapter}' was merged before {string.Join(", ", Merged.Skip(position + 1))}; unmerge those first (DoRA merges do not commute)");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var delta = DeltaWeight(adapter);
        var w = LinearLayers.ReadWeight(BaseLayer, ScalarType.Float32);
        var restored = _variants.TryGetValue(adapter, out var variant) ? variant.Unmerge(this, adapter, w, delta) : w - delta;
        WriteBase(restored);
        Merged.RemoveAt(position);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor result;
        if (Routing.AdaptersDisabled)
        {
            UnmergeAll();
            result = BaseLayer.forward(x);
        }
        else if (Routing.RowAdapterNames is { } rows)
        {
            result = MixedBatchForward(x, rows);
        }
        else
        {
            var baseResult = BaseLayer.forward(x);
            result = baseResult;
            var active = Routing.ActiveAdapters;
            for (int i = 0; i < active.Count; i++) // indexed: no enumerator allocation per call
            {
                string name = active[i];
                // A merged adapter is already in the base weight.
                if (!AdapterSettings.TryGetValue(name, out var s) || Merged.Contains(name)) continue;
                _variants.TryGetValue(name, out var variant);
                if (variant is null && result.dtype == x.dtype)
                {
                    // Without autograd (generation) the delta is added in place, one op fewer; variants
                    // (DoRA) read the untouched base result, so with one on the layer it stays out of place.
                    result = !result.requires_grad && _variants.Count == 0
                        ? AddLoraDeltaInPlace(result, x, name, s)
                        : AddLoraDelta(result, x, name, s);
                    continue;
                }
                var delta = variant?.Forward(this, name, s, x, baseResult) ?? LoraDelta(x, name, s);
                result = result.Plus(delta.dtype == result.dtype ? delta : delta.to(result.dtype));
            }
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>PEFT's <c>_mixed_batch_forward</c>: base for every row, plus each row's own adapter on its rows.</summary>
    private Tensor MixedBatchForward(Tensor x, IReadOnlyList<string> rows)
    {
        CheckRowAdapterCount(rows, x);
        if (Merged.Count > 0)
            throw new InvalidOperationException("mixed-adapter batches need unmerged adapters; unmerge first");
        var result = BaseLayer.forward(x);
        var groups = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        using var one = 1.0.ToScalar();
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i] == IAdapterRouting.BaseModelName || !AdapterSettings.ContainsKey(rows[i])) continue;
            if (!groups.TryGetValue(rows[i], out var list)) groups[rows[i]] = list = [];
            list.Add(i);
        }
        foreach (var (name, indices) in groups)
        {
            var s = AdapterSettings[name];
            if (_variants.TryGetValue(name, out var variant))
                throw new InvalidOperationException($"mixed-adapter batches do not support {variant.Name} (adapter '{name}')");
            var index = tensor(indices.ToArray(), ScalarType.Int64, x.device);
            var delta = LoraDelta(x.index_select(0, index), name, s);
            result = result.index_add(0, index, delta.dtype == result.dtype ? delta : delta.to(result.dtype), one);
        }
        return result;
    }

    /// <summary>
    /// <paramref name="result"/> + scaling·B·A·dropout(x) with the up-projection, the scaling and the
    /// sum fused into one addmm over the rows: no scaled rank-r copy, no separate [.., out] delta
    /// and no extra add (in generation, where every op's fixed cost shows, that is two ops instead of four).
    /// </summary>
    private Tensor AddLoraDelta(Tensor result, Tensor x, string name, LoraAdapterSettings s)
    {
        var (a, b) = AdapterWeights(name, x.dtype);
        var down = F.linear(Dropout(x, s), a);
        var rows = result.reshape(-1, result.shape[^1]);
        return rows.addmm(down.reshape(-1, down.shape[^1]), b.t(), beta: 1, alpha: (float)s.Scaling).view(result.shape);
    }

    /// <summary>
    /// <paramref name="result"/> += scaling·B·A·x in place, for inference: one mm down and one
    /// addmm_ up over the rows (no delta tensor, no separate add). On a 512-wide layer and one
    /// token that is 4.0 µs against 6.5 µs for linear, linear, add_ — per-op overhead, not
    /// arithmetic, is what an unmerged adapter costs in generation.
    /// </summary>
    private Tensor AddLoraDeltaInPlace(Tensor result, Tensor x, string name, LoraAdapterSettings s)
    {
        var (a, b) = AdapterWeights(name, x.dtype);
        if (!result.is_contiguous())
        {
            using var scaling = s.Scaling.ToScalar();
            return result.add_(F.linear(F.linear(Dropout(x, s), a), b), scaling);
        }
        var down = Dropout(x, s).reshape(-1, InFeatures).mm(a.t());
        result.view(-1, OutFeatures).addmm_(down, b.t(), beta: 1, alpha: (float)s.Scaling);
        return result;
    }

    /// <summary>scaling·B·A·dropout(x) in x's dtype; the scaling is applied on the rank-r intermediate.</summary>
    private Tensor LoraDelta(Tensor x, string name, LoraAdapterSettings s)
    {
        var (a, b) = AdapterWeights(name, x.dtype);
        var dropped = Dropout(x, s);
        return F.linear(F.linear(dropped, a).Times(s.Scaling), b);
    }

    /// <summary>The base weight [out, in] in <paramref name="dtype"/>, detached; a plain Linear's own weight is not copied.</summary>
    internal Tensor BaseWeight(ScalarType dtype) =>
        BaseLayer is Linear l && l.weight!.dtype == dtype ? l.weight.detach() : LinearLayers.ReadWeight(BaseLayer, dtype);

    /// <summary>A and B of <paramref name="name"/> in <paramref name="dtype"/> (the parameters themselves when they are in it already).</summary>
    internal (Tensor A, Tensor B) AdapterWeights(string name, ScalarType dtype)
    {
        Tensor a = LoraA(name), b = LoraB(name);
        return (a.dtype == dtype ? a : a.to(dtype), b.dtype == dtype ? b : b.to(dtype));
    }

    private Tensor Dropout(Tensor x, LoraAdapterSettings s) => s.Dropout > 0 && training ? F.dropout(x, s.Dropout, true) : x;

    /// <summary>The variant an adapter with <paramref name="settings"/> uses, or null for plain LoRA (PEFT's <c>resolve_lora_variant</c>).</summary>
    private static ILoraVariant? ResolveVariant(LoraAdapterSettings settings) => settings.UseDora ? new DoraVariant() : null;

    /// <summary>Writes <paramref name="updated"/> (float32) into the base weight, cast to the weight's own dtype (re-quantized for an <see cref="ILinearLayer"/>).</summary>
    private void WriteBase(Tensor updated) => LinearLayers.WriteWeight(BaseLayer, updated);
}
