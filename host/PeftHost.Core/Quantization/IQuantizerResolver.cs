using PeftHost.Sdk;

namespace PeftHost.Core.Quantization;

/// <summary>Finds a quantizer by name (nf4, fp4, int8): the plugin host in production, a registry in tests.</summary>
public interface IQuantizerResolver
{
    /// <summary>The quantizer called <paramref name="name"/>; throws naming the known ones when there is none.</summary>
    IQuantizer Resolve(string name);
}

/// <summary>A fixed set of quantizers.</summary>
public sealed class QuantizerRegistry(IEnumerable<IQuantizer> quantizers) : IQuantizerResolver
{
    private readonly Dictionary<string, IQuantizer> _byName = quantizers.ToDictionary(q => q.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>The registered names.</summary>
    public IReadOnlyCollection<string> Names => _byName.Keys;

    /// <inheritdoc />
    public IQuantizer Resolve(string name)
    {
        if (_byName.TryGetValue(name, out var q)) return q;
        string? hint = KeyNames.DidYouMean(name, _byName.Keys);
        // The plugin host's wording, so a recipe reads the same message whichever resolver it runs with.
        throw new ConfigException($"unknown quantizer '{name}'" + (hint is null ? "" : $"; did you mean '{hint}'?") +
            $" Available: {(_byName.Count == 0 ? "none" : string.Join(", ", _byName.Keys.Order(StringComparer.Ordinal)))}", "quantization");
    }
}
