using TorchSharp;
using TorchSharp.Modules;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// PEFT's <c>nn.ParameterDict</c> keyed by adapter name, so parameter paths read
/// <c>…q_proj.{dict name}.{adapter}</c> (e.g. <c>…q_proj.ia3_l.default</c>) exactly as in PEFT. Entries can be removed again.
/// </summary>
public sealed class AdapterParameterDict : CanonicalModule
{
    /// <summary>Creates an empty dictionary named <paramref name="name"/>.</summary>
    public AdapterParameterDict(string name) : base(name) { }

    /// <summary>The parameter of <paramref name="adapter"/>.</summary>
    public Parameter this[string adapter] =>
        _internal_params.TryGetValue(adapter, out var p) ? p : throw new KeyNotFoundException($"no adapter '{adapter}' in {GetName()}");

    /// <summary>True when <paramref name="adapter"/> has an entry.</summary>
    public bool Contains(string adapter) => _internal_params.ContainsKey(adapter);

    /// <summary>Adds (or replaces) the entry of <paramref name="adapter"/>; a replaced parameter is disposed.</summary>
    public void Set(string adapter, Parameter parameter)
    {
        if (_internal_params.TryGetValue(adapter, out var old))
        {
            _internal_params.Remove(adapter);
            if (!ReferenceEquals(old, parameter)) old.Dispose();
        }
        register_parameter(adapter, parameter);
    }

    /// <summary>Removes and disposes the entry of <paramref name="adapter"/>, if any.</summary>
    public void Remove(string adapter)
    {
        if (_internal_params.TryGetValue(adapter, out var p))
        {
            _internal_params.Remove(adapter);
            p.Dispose();
        }
    }
}
