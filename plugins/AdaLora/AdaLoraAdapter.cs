using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.AdaLora;

/// <summary>
/// One AdaLoRA adapter on a model: its <see cref="AdaLoraLayer"/>s, its rank allocator, the orthogonal regulariser
/// (a loss term) and the per-step allocation (a training hook). Saved as PEFT saves it: per adapted module
/// <c>base_model.model.{path}.lora_A</c> [r, in], <c>.lora_E</c> [r, 1], <c>.lora_B</c> [out, r], pruned to
/// <c>rank_pattern</c> when the allocator has produced one.
/// </summary>
public sealed class AdaLoraAdapter : TunerLayerAdapter<AdaLoraLayer>
{
    private readonly List<IDisposable> _hooks = [];
    private RankAllocator? _allocator;

    internal AdaLoraAdapter(IPeftModelSurface surface, string name, AdaLoraConfig config, List<(string Path, AdaLoraLayer Layer)> layers)
        : base(surface, name, config, layers)
    {
        AdaLoraConfig = config;
        _hooks.Add(surface.AddLossTerm(new OrthogonalRegularizer(this)));
        _hooks.Add(surface.AddTrainingHooks(new AdaLoraTrainingHooks(this, surface.Warn)));
    }

    /// <summary>The typed config (its <c>rank_pattern</c> is updated by the allocator).</summary>
    public AdaLoraConfig AdaLoraConfig { get; }

    /// <summary>The rank allocator (created on first use).</summary>
    public RankAllocator Allocator => _allocator ??= new RankAllocator(AdaLoraConfig, Name, Layers);

    /// <summary>The number of triplets whose singular value is not zero, over all modules (the effective total rank).</summary>
    public int EffectiveRank()
    {
        using var scope = NewDisposeScope();
        using var zero = 0.ToScalar();
        return Layers.Sum(l => (int)l.Layer.LoraE(Name).ne(zero).sum().item<long>());
    }

    /// <inheritdoc />
    public override IEnumerable<(string Key, Parameter Parameter)> NamedParameters()
    {
        foreach (var (path, layer) in Layers)
        {
            yield return (AdapterStateDict.Key(path, "lora_A"), layer.LoraA(Name));
            yield return (AdapterStateDict.Key(path, "lora_B"), layer.LoraB(Name));
            yield return (AdapterStateDict.Key(path, "lora_E"), layer.LoraE(Name));
        }
    }

    /// <inheritdoc />
    /// <remarks>With a rank pattern, each module keeps only its kept triplets (rows of A and E, columns of B).</remarks>
    public override IReadOnlyDictionary<string, Tensor> GetState()
    {
        var pattern = AdaLoraConfig.ReadRankPattern();
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (path, layer) in Layers)
        {
            string ka = AdapterStateDict.Key(path, "lora_A"), ke = AdapterStateDict.Key(path, "lora_E"), kb = AdapterStateDict.Key(path, "lora_B");
            var a = layer.LoraA(Name).detach();
            var e = layer.LoraE(Name).detach();
            var b = layer.LoraB(Name).detach();
            if (pattern is not null && pattern.TryGetValue(RankAllocator.PatternKey(path), out var keep)
                && keep.Length == a.shape[0] && keep.Count(k => k) != keep.Length)
            {
                var index = tensor(Enumerable.Range(0, keep.Length).Where(i => keep[i]).Select(i => (long)i).ToArray(), device: a.device);
                state[ka] = a.index_select(0, index).cpu();
                state[ke] = e.index_select(0, index).cpu();
                state[kb] = b.index_select(1, index).cpu();
            }
            else
            {
                state[ka] = a.cpu().clone();
                state[ke] = e.cpu().clone();
                state[kb] = b.cpu().clone();
            }
        }
        foreach (var t in state.Values) t.MoveToOuterDisposeScope();
        return state;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Each module's tensors must have its current shapes, or — when the config carries a rank pattern and the
    /// module still holds every initial triplet — the pruned shapes, which are then scattered into the kept
    /// positions (dropped triplets get zeros). Problems are reported together, naming key and both shapes.
    /// </remarks>
    public override void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        var pattern = AdaLoraConfig.ReadRankPattern();
        var problems = new List<string>();
        var plan = new List<(AdaLoraLayer Layer, Tensor A, Tensor E, Tensor B, bool[]? Scatter)>();
        foreach (var (path, layer) in Layers)
        {
            string ka = AdapterStateDict.Key(path, "lora_A"), ke = AdapterStateDict.Key(path, "lora_E"), kb = AdapterStateDict.Key(path, "lora_B");
            int rank = layer.Rank(Name);
            bool[]? keep = pattern is not null && pattern.TryGetValue(RankAllocator.PatternKey(path), out var k) && k.Length == rank ? k : null;
            int pruned = keep?.Count(x => x) ?? rank;
            Tensor? a = Fetch(state, ka, problems, [rank, layer.InFeatures], keep is null ? null : [pruned, layer.InFeatures]);
            Tensor? e = Fetch(state, ke, problems, [rank, 1], keep is null ? null : [pruned, 1]);
            Tensor? b = Fetch(state, kb, problems, [layer.OutFeatures, rank], keep is null ? null : [layer.OutFeatures, pruned]);
            if (a is null || e is null || b is null) continue;
            bool scatter = keep is not null && pruned != rank && a.shape[0] == pruned;
            if (scatter && (e.shape[0] != pruned || b.shape[1] != pruned))
            {
                problems.Add($"tensors of '{path}' mix pruned and unpruned ranks (lora_A {AdapterStateDict.Shape(a.shape)}, lora_E {AdapterStateDict.Shape(e.shape)}, lora_B {AdapterStateDict.Shape(b.shape)})");
                continue;
            }
            plan.Add((layer, a, e, b, scatter ? keep : null));
        }
        foreach (var key in AdapterStateDict.Unexpected(state, NamedParameters()))
            Surface.Warn($"AdaLoRA adapter '{Name}': unexpected tensor '{key}' ignored");
        AdapterStateDict.ThrowIfAny(problems, "AdaLoRA", Name);

        using var _ = no_grad();
        foreach (var (layer, a, e, b, keep) in plan)
        {
            if (keep is null)
            {
                layer.LoraA(Name).copy_(a);
                layer.LoraE(Name).copy_(e);
                layer.LoraB(Name).copy_(b);
                continue;
            }
            using var scope = NewDisposeScope();
            var pa = layer.LoraA(Name);
            var index = tensor(Enumerable.Range(0, keep.Length).Where(i => keep[i]).Select(i => (long)i).ToArray(), device: pa.device);
            pa.zero_().index_copy_(0, index, a.to(pa.dtype, pa.device));
            var pe = layer.LoraE(Name);
            pe.zero_().index_copy_(0, index, e.to(pe.dtype, pe.device));
            var pb = layer.LoraB(Name);
            pb.zero_().index_copy_(1, index, b.to(pb.dtype, pb.device));
        }
        _allocator?.ResetImportance();
    }

    /// <summary>Releases the loss term, the training hooks and the rank allocator.</summary>
    protected override void OnRemoving()
    {
        foreach (var hook in _hooks) hook.Dispose();
        _hooks.Clear();
        _allocator?.Dispose();
        _allocator = null;
    }

    /// <summary>
    /// PEFT's <c>AdaLoraModel.update_and_allocate(global_step)</c>: call once per optimizer step, after
    /// <c>optimizer.step()</c> and before the gradients are cleared. Before <c>total_step − tfinal</c> it updates the
    /// importance and masks to the scheduled budget every <c>deltaT</c> steps; at <c>total_step − tfinal</c> it masks
    /// to the target budget and fixes <c>rank_pattern</c>; after that it re-applies the fixed pattern each step.
    /// Does nothing for an adapter that is not training.
    /// </summary>
    public void UpdateAndAllocate(int globalStep)
    {
        if (IsRemoved || Layers.Count == 0 || !Layers[0].Layer.LoraA(Name).requires_grad) return;
        int total = AdaLoraConfig.TotalStep
            ?? throw new InvalidOperationException($"AdaLoRA adapter '{Name}': total_step is not set; the budget schedule needs it");
        int final = total - AdaLoraConfig.Tfinal;
        if (globalStep < final)
        {
            var (_, pattern) = Allocator.UpdateAndAllocate(globalStep);
            if (pattern is not null) AdaLoraConfig.WriteRankPattern(pattern);
        }
        else if (globalStep == final)
        {
            var (_, pattern) = Allocator.UpdateAndAllocate(globalStep, forceMask: true);
            AdaLoraConfig.WriteRankPattern(pattern!);
            Allocator.ResetImportance();
        }
        else if (AdaLoraConfig.ReadRankPattern() is { } fixedPattern)
        {
            Allocator.MaskUsingRankPattern(fixedPattern);
        }
    }

    private static Tensor? Fetch(IReadOnlyDictionary<string, Tensor> state, string key, List<string> problems, long[] shape, long[]? prunedShape)
    {
        if (!state.TryGetValue(key, out var value))
        {
            problems.Add(AdapterStateDict.Missing(key, prunedShape ?? shape));
            return null;
        }
        if (value.shape.SequenceEqual(shape) || (prunedShape is not null && value.shape.SequenceEqual(prunedShape))) return value;
        problems.Add($"tensor '{key}' has shape {AdapterStateDict.Shape(value.shape)} but the adapter expects {AdapterStateDict.Shape(shape)}"
            + (prunedShape is null ? "" : $" (or {AdapterStateDict.Shape(prunedShape)} pruned to rank_pattern)"));
        return null;
    }
}
