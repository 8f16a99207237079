using System.Runtime.Loader;
using PeftHost.Sdk;

namespace PeftHost.Core.Plugins;

/// <summary>
/// The live instances one build of a plugin provides. Handed to
/// <see cref="IPluginReloadParticipant"/>s during a hot reload: the outgoing build's exports to
/// detach from, then the incoming build's to re-attach with. Do not keep it past the call:
/// holding the outgoing exports keeps the old assembly from unloading.
/// </summary>
public sealed class PluginExports
{
    private readonly AssemblyLoadContext? _context;

    internal PluginExports(string pluginName, string? version, IReadOnlyList<IPeftMethod> methods,
        IReadOnlyList<IQuantizer> quantizers, AssemblyLoadContext? context)
    {
        PluginName = pluginName;
        Version = version;
        Methods = methods;
        Quantizers = quantizers;
        _context = context;
    }

    /// <summary>The plugin's name.</summary>
    public string PluginName { get; }

    /// <summary>The build's version.</summary>
    public string? Version { get; }

    /// <summary>The methods of this build.</summary>
    public IReadOnlyList<IPeftMethod> Methods { get; }

    /// <summary>The quantizers of this build.</summary>
    public IReadOnlyList<IQuantizer> Quantizers { get; }

    /// <summary>The method named <paramref name="name"/> (case-insensitive); throws naming the plugin when this build has none.</summary>
    public IPeftMethod GetMethod(string name) =>
        Methods.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new PluginException(PluginName,
            $"plugin '{PluginName}' {Version} no longer provides method '{name}' (it provides: {string.Join(", ", Methods.Select(m => m.Name))})");

    /// <summary>The quantizer named <paramref name="name"/>, or null.</summary>
    public IQuantizer? FindQuantizer(string name) =>
        Quantizers.FirstOrDefault(q => string.Equals(q.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// True when <paramref name="instance"/>'s type comes from this build (an adapter, a module, a
    /// config made by its code): what a participant must let go of before the build unloads.
    /// </summary>
    public bool Owns(object instance) =>
        _context is not null && AssemblyLoadContext.GetLoadContext(instance.GetType().Assembly) == _context;
}
