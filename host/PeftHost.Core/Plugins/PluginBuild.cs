using System.Reflection;
using System.Runtime.Loader;
using McMaster.NETCore.Plugins;
using PeftHost.Sdk;

namespace PeftHost.Core.Plugins;

/// <summary>
/// One loaded build of a plugin: its collectible load context and the instances its code made.
/// The only place the host holds references into a plugin's context, so that dropping a build
/// (<see cref="Unload"/>) is what lets the context be collected.
/// </summary>
internal sealed class PluginBuild
{
    private PluginLoader? _loader;

    public PluginBuild(PluginLoader loader, Assembly assembly, PluginAssemblyFacts facts,
        IReadOnlyList<IPeftMethod> methods, IReadOnlyList<IQuantizer> quantizers, IReadOnlyList<PluginExport> exports)
    {
        _loader = loader;
        Assembly = assembly;
        Facts = facts;
        Methods = methods;
        Quantizers = quantizers;
        Exports = exports;
    }

    public Assembly Assembly { get; private set; }

    public PluginAssemblyFacts Facts { get; }

    public IReadOnlyList<IPeftMethod> Methods { get; private set; }

    public IReadOnlyList<IQuantizer> Quantizers { get; private set; }

    /// <summary>Plain descriptions of <see cref="Methods"/> and <see cref="Quantizers"/>.</summary>
    public IReadOnlyList<PluginExport> Exports { get; }

    public AssemblyLoadContext? Context => _loader?.LoadContext;

    /// <summary>True when <paramref name="assembly"/> was loaded by this build's context.</summary>
    public bool Contains(Assembly assembly) => _loader is not null && AssemblyLoadContext.GetLoadContext(assembly) == _loader.LoadContext;

    public PluginExports ToExports(string pluginName) => new(pluginName, Facts.Version, Methods, Quantizers, Context);

    /// <summary>
    /// Unloads the context and drops every reference to it. Returns a weak reference to the
    /// context so that its collection can be observed (it goes once nothing else holds its objects).
    /// </summary>
    public WeakReference Unload()
    {
        var loader = _loader ?? throw new InvalidOperationException("build already unloaded");
        var weak = new WeakReference(loader.LoadContext);
        Methods = [];
        Quantizers = [];
        Assembly = null!;
        _loader = null;
        loader.Dispose();
        return weak;
    }
}
