using PeftHost.Core.Training.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Training.Precision;

/// <summary>
/// The tensors the optimizer updates for a set of trainable parameters. A float32 parameter is
/// updated in place; any other (bf16, fp16) gets a float32 master copy: gradients are cast up
/// to it, the optimizer steps it, and it is cast back (rounded) into the parameter.
/// </summary>
internal sealed class MasterWeights : IDisposable
{
    private readonly List<(string Name, Parameter Parameter, Tensor? Master)> _entries = [];

    public MasterWeights(IEnumerable<(string Name, Parameter Parameter)> parameters)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in parameters)
        {
            var master = p.dtype == ScalarType.Float32 ? null : p.detach().to(ScalarType.Float32).clone().DetachFromDisposeScope();
            _entries.Add((name, p, master));
        }
    }

    /// <summary>How many parameters have a master copy.</summary>
    public int MasterCount => _entries.Count(e => e.Master is not null);

    /// <summary>(name, parameter) in order.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> Parameters => _entries.Select(e => (e.Name, e.Parameter));

    /// <summary>The parameters' names, in order.</summary>
    public IReadOnlyList<string> Names => _entries.Select(e => e.Name).ToArray();

    /// <summary>What the optimizer updates, by name.</summary>
    public IReadOnlyList<OptimizedTensor> Optimized => _entries.Select(e => new OptimizedTensor(e.Name, e.Master ?? e.Parameter)).ToArray();

    /// <summary>The gradients for the optimized tensors (cast to float32 for master copies); null where a parameter got none.</summary>
    public IReadOnlyList<Tensor?> Gradients()
    {
        var grads = new Tensor?[_entries.Count];
        for (int i = 0; i < _entries.Count; i++)
        {
            var (_, p, master) = _entries[i];
            var g = p.grad;
            grads[i] = g is null ? null : master is null ? g : g.to(ScalarType.Float32);
        }
        return grads;
    }

    /// <summary><paramref name="gradients"/> (aligned with <see cref="Names"/>) keyed by name, without the missing ones.</summary>
    public IReadOnlyDictionary<string, Tensor> ByName(IReadOnlyList<Tensor?> gradients)
    {
        var byName = new Dictionary<string, Tensor>(_entries.Count);
        for (int i = 0; i < _entries.Count; i++)
            if (gradients[i] is { } g) byName[_entries[i].Name] = g;
        return byName;
    }

    /// <summary>Copies the master values into the parameters (after an optimizer step or a restore).</summary>
    public void CopyToParameters()
    {
        using var noGrad = no_grad();
        foreach (var (_, p, master) in _entries)
            if (master is not null) p.copy_(master);
    }

    /// <summary>Sets a parameter's value (and its master's) from <paramref name="value"/>.</summary>
    public void Load(int index, Tensor value)
    {
        using var noGrad = no_grad();
        var (_, p, master) = _entries[index];
        if (master is not null) master.copy_(value);
        p.copy_(value);
    }

    /// <summary>Clears the parameters' gradients.</summary>
    public void ZeroGradients()
    {
        foreach (var (_, p, _) in _entries)
        {
            using var g = p.grad;
            g?.zero_();
        }
    }

    public void Dispose()
    {
        foreach (var (_, _, master) in _entries) master?.Dispose();
        _entries.Clear();
    }
}
