using PeftHost.Sdk;
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
public sealed class AdaLoraAdapter : IAdapter
{
    /// <summary>The prefix PEFT puts in front of module paths in saved keys.</summary>
    public const string KeyPrefix = "base_model.model.";

    private readonly IPeftModelSurface _surface;
    private readonly List<(string Path, AdaLoraLayer Layer)> _layers;
    private readonly List<IDisposable> _hooks = [];
    private RankAllocator? _allocator;
    private bool _removed;

    internal AdaLoraAdapter(IPeftModelSurface surface, string name, AdaLoraConfig config, List<(string Path, AdaLoraLayer Layer)> layers)
    {
        _surface = surface;
        Name = name;
        AdaLoraConfig = config;
        _layers = layers;
        _hooks.Add(surface.AddLossTerm(new OrthogonalRegularizer(this)));
        _hooks.Add(surface.AddTrainingHooks(new AdaLoraTrainingHooks(this, surface.Warn)));
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public PeftConfig Config => AdaLoraConfig;

    /// <summary>The typed config (its <c>rank_pattern</c> is updated by the allocator).</summary>
    public AdaLoraConfig AdaLoraConfig { get; }

    /// <summary>The adapted modules, by path.</summary>
    public IReadOnlyList<(string Path, AdaLoraLayer Layer)> Layers => _layers;

    /// <summary>The rank allocator (created on first use).</summary>
    public RankAllocator Allocator => _allocator ??= new RankAllocator(AdaLoraConfig, Name, _layers);

    /// <inheritdoc />
    public bool CanMerge => true;

    /// <inheritdoc />
    public bool IsMerged => _layers.Count > 0 && _layers.All(l => l.Layer.IsMerged(Name));

    /// <summary>The number of triplets whose singular value is not zero, over all modules (the effective total rank).</summary>
    public int EffectiveRank()
    {
        using var scope = NewDisposeScope();
        return _layers.Sum(l => (int)l.Layer.LoraE(Name).ne(0).sum().item<long>());
    }

    /// <inheritdoc />
    public IEnumerable<(string Key, Parameter Parameter)> NamedParameters()
    {
        foreach (var (path, layer) in _layers)
        {
            yield return ($"{KeyPrefix}{path}.lora_A", layer.LoraA(Name));
            yield return ($"{KeyPrefix}{path}.lora_B", layer.LoraB(Name));
            yield return ($"{KeyPrefix}{path}.lora_E", layer.LoraE(Name));
        }
    }

    /// <inheritdoc />
    /// <remarks>With a rank pattern, each module keeps only its kept triplets (rows of A and E, columns of B).</remarks>
    public IReadOnlyDictionary<string, Tensor> GetState()
    {
        var pattern = AdaLoraConfig.ReadRankPattern();
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (path, layer) in _layers)
        {
            var a = layer.LoraA(Name).detach();
            var e = layer.LoraE(Name).detach();
            var b = layer.LoraB(Name).detach();
            if (pattern is not null && pattern.TryGetValue(RankAllocator.PatternKey(path), out var keep)
                && keep.Length == a.shape[0] && keep.Count(k => k) != keep.Length)
            {
                var index = tensor(Enumerable.Range(0, keep.Length).Where(i => keep[i]).Select(i => (long)i).ToArray(), device: a.device);
                state[$"{KeyPrefix}{path}.lora_A"] = a.index_select(0, index).cpu();
                state[$"{KeyPrefix}{path}.lora_E"] = e.index_select(0, index).cpu();
                state[$"{KeyPrefix}{path}.lora_B"] = b.index_select(1, index).cpu();
            }
            else
            {
                state[$"{KeyPrefix}{path}.lora_A"] = a.cpu().clone();
                state[$"{KeyPrefix}{path}.lora_E"] = e.cpu().clone();
                state[$"{KeyPrefix}{path}.lora_B"] = b.cpu().clone();
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
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        var pattern = AdaLoraConfig.ReadRankPattern();
        var problems = new List<string>();
        var plan = new List<(AdaLoraLayer Layer, Tensor A, Tensor E, Tensor B, bool[]? Scatter)>();
        foreach (var (path, layer) in _layers)
        {
            string ka = $"{KeyPrefix}{path}.lora_A", ke = $"{KeyPrefix}{path}.lora_E", kb = $"{KeyPrefix}{path}.lora_B";
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
                problems.Add($"tensors of '{path}' mix pruned and unpruned ranks (lora_A {Shape(a.shape)}, lora_E {Shape(e.shape)}, lora_B {Shape(b.shape)})");
                continue;
            }
            plan.Add((layer, a, e, b, scatter ? keep : null));
        }
        var expected = NamedParameters().Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var key in state.Keys.Where(k => !expected.Contains(k)))
            _surface.Warn($"AdaLoRA adapter '{Name}': unexpected tensor '{key}' ignored");
        if (problems.Count > 0)
            throw new InvalidDataException($"cannot load AdaLoRA adapter '{Name}': " + string.Join("; ", problems.Take(20))
                + (problems.Count > 20 ? $"; and {problems.Count - 20} more" : ""));

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

    /// <inheritdoc />
    public void Merge()
    {
        foreach (var (_, layer) in _layers) layer.Merge(Name);
    }

    /// <inheritdoc />
    public void Unmerge()
    {
        foreach (var (_, layer) in _layers) layer.Unmerge(Name);
    }

    /// <inheritdoc />
    public void Remove(bool keepMerged = false)
    {
        if (_removed) return;
        _removed = true;
        foreach (var hook in _hooks) hook.Dispose();
        _hooks.Clear();
        _allocator?.Dispose();
        _allocator = null;
        foreach (var (path, layer) in _layers)
        {
            layer.RemoveAdapter(Name, keepMerged);
            if (layer.AdapterNames.Count == 0) _surface.ReplaceModule(path, layer.BaseLayer);
        }
        _layers.Clear();
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
        if (_removed || _layers.Count == 0 || !_layers[0].Layer.LoraA(Name).requires_grad) return;
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
            problems.Add($"missing tensor '{key}' (expected shape {Shape(prunedShape ?? shape)})");
            return null;
        }
        if (value.shape.SequenceEqual(shape) || (prunedShape is not null && value.shape.SequenceEqual(prunedShape))) return value;
        problems.Add($"tensor '{key}' has shape {Shape(value.shape)} but the adapter expects {Shape(shape)}"
            + (prunedShape is null ? "" : $" (or {Shape(prunedShape)} pruned to rank_pattern)"));
        return null;
    }

    private static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
