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
    public IQuantizer Resolve(string name) =>
        _byName.TryGetValue(name, out var q) ? q
        : throw new ConfigException($"no quantizer '{name}' (available: {string.Join(", ", _byName.Keys.Order())})", "quantization");
}
