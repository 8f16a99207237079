using TorchSharp;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// A module holding one child per adapter name, like PEFT's <c>nn.ModuleDict</c> keyed by adapter, so
/// parameter paths read <c>…q_proj.lora_A.default.weight</c>. Children can be removed again.
/// </summary>
public sealed class AdapterModuleDict : CanonicalModule
{
    /// <summary>Creates an empty dictionary named <paramref name="name"/>.</summary>
    public AdapterModuleDict(string name) : base(name) { }

    /// <summary>The adapter names, in insertion order.</summary>
    public IReadOnlyList<string> Names => _internal_submodules.Keys.ToList();

    /// <summary>Number of adapters held.</summary>
    public int Count => _internal_submodules.Count;

    /// <summary>True when an entry exists for <paramref name="adapter"/>.</summary>
    public bool Contains(string adapter) => _internal_submodules.ContainsKey(adapter);

    /// <summary>The entry for <paramref name="adapter"/>.</summary>
    public torch.nn.Module this[string adapter] =>
        _internal_submodules.TryGetValue(adapter, out var module) ? module : throw new KeyNotFoundException($"no adapter '{adapter}' in {GetName()}");

    /// <summary>Adds the entry for <paramref name="adapter"/>.</summary>
    public void Add(string adapter, torch.nn.Module module)
    {
        if (Contains(adapter)) throw new InvalidOperationException($"{GetName()} already holds adapter '{adapter}'");
        register_module(adapter, module);
    }

    /// <summary>Removes and returns the entry for <paramref name="adapter"/>, or null when there is none.</summary>
    public torch.nn.Module? Remove(string adapter)
    {
        if (!_internal_submodules.TryGetValue(adapter, out var module)) return null;
        _internal_submodules.Remove(adapter);
        return module;
    }
}
