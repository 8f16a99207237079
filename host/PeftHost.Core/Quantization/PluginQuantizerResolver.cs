using PeftHost.Core.Plugins;
using PeftHost.Sdk;

namespace PeftHost.Core.Quantization;

/// <summary>Resolves quantizers (nf4, fp4, int8) from the plugins the host has loaded.</summary>
public sealed class PluginQuantizerResolver(PluginHost host) : IQuantizerResolver
{
    /// <inheritdoc />
    public IQuantizer Resolve(string name) => host.GetQuantizer(name);
}
