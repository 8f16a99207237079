using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Sdk;

namespace PeftHost.Core.Recipes;

/// <summary>The methods a <see cref="PluginHost"/> serves, as the <see cref="IMethodCatalog"/> a PEFT model asks.</summary>
public sealed class PluginMethodCatalog(PluginHost plugins) : IMethodCatalog
{
    /// <inheritdoc />
    public IPeftMethod GetMethod(string name) => plugins.GetMethod(name);

    /// <inheritdoc />
    public IPeftMethod GetMethodByPeftType(string peftType) =>
        plugins.FindMethodByPeftType(peftType) ?? throw StaticMethodCatalog.Unknown("peft_type", peftType,
            plugins.Plugins.SelectMany(p => p.Methods).Select(m => m.PeftType).OfType<string>().Distinct());
}
