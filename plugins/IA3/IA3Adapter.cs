using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.IA3;

/// <summary>
/// One (IA)³ adapter on a model: its <see cref="IA3Layer"/>s. Saved as PEFT saves it: per adapted module
/// <c>base_model.model.{path}.ia3_l</c> ([out, 1], or [1, in] for feed-forward modules).
/// </summary>
public sealed class IA3Adapter : IAdapter
{
    /// <summary>The prefix PEFT puts in front of module paths in saved keys.</summary>
    public const string KeyPrefix = "base_model.model.";

    private readonly IPeftModelSurface _surface;
    private readonly List<(string Path, IA3Layer Layer)> _layers;
    private bool _removed;

    internal IA3Adapter(IPeftModelSurface surface, string name, IA3Config config, List<(string Path, IA3Layer Layer)> layers)
    {
        _surface = surface;
        Name = name;
        IA3Config = config;
        _layers = layers;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public PeftConfig Config => IA3Config;

    /// <summary>The typed config.</summary>
    public IA3Config IA3Config { get; }

    /// <summary>The adapted modules, by path.</summary>
    public IReadOnlyList<(string Path, IA3Layer Layer)> Layers => _layers;

    /// <inheritdoc />
    public bool CanMerge => true;

    /// <inheritdoc />
    public bool IsMerged => _layers.Count > 0 && _layers.All(l => l.Layer.IsMerged(Name));

    /// <inheritdoc />
    public IEnumerable<(string Key, Parameter Parameter)> NamedParameters() =>
        _layers.Select(l => ($"{KeyPrefix}{l.Path}.ia3_l", l.Layer.Vector(Name)));

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState()
    {
        using var _ = no_grad();
        return NamedParameters().ToDictionary(p => p.Key, p => p.Parameter.detach().cpu().clone(), StringComparer.Ordinal);
    }

    /// <inheritdoc />
    /// <remarks>Every key must be present with its shape; problems are reported together, naming key and both shapes.</remarks>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        var problems = new List<string>();
        var expected = NamedParameters().ToList();
        foreach (var (key, p) in expected)
        {
            if (!state.TryGetValue(key, out var value))
                problems.Add($"missing tensor '{key}' (expected shape {Shape(p.shape)})");
            else if (!value.shape.SequenceEqual(p.shape))
                problems.Add($"tensor '{key}' has shape {Shape(value.shape)} but adapter '{Name}' expects {Shape(p.shape)}");
        }
        if (problems.Count > 0)
            throw new InvalidDataException($"cannot load IA3 adapter '{Name}': " + string.Join("; ", problems.Take(20))
                + (problems.Count > 20 ? $"; and {problems.Count - 20} more" : ""));
        var keys = expected.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var key in state.Keys.Where(k => !keys.Contains(k)))
            _surface.Warn($"IA3 adapter '{Name}': unexpected tensor '{key}' ignored");
        using var _ = no_grad();
        foreach (var (key, p) in expected) p.copy_(state[key]);
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
        foreach (var (path, layer) in _layers)
        {
            layer.RemoveAdapter(Name, keepMerged);
            if (layer.AdapterNames.Count == 0) _surface.ReplaceModule(path, layer.BaseLayer);
        }
        _layers.Clear();
    }

    private static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
