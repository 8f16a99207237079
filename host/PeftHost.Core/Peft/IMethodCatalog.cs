using PeftHost.Sdk;

namespace PeftHost.Core.Peft;

/// <summary>Where the PEFT model finds methods: the plugin host in production, a fixed list in tests.</summary>
public interface IMethodCatalog
{
    /// <summary>The method named <paramref name="name"/> (e.g. "lora"); throws with the available names when there is none.</summary>
    IPeftMethod GetMethod(string name);

    /// <summary>The method that writes <paramref name="peftType"/> (e.g. "LORA") in adapter_config.json.</summary>
    IPeftMethod GetMethodByPeftType(string peftType);

    /// <summary>
    /// Calls plugin code on the engine's behalf. The plugin host guards it (a throw or a hang marks
    /// the plugin Failed and is reported as a <see cref="Plugins.PluginException"/> naming it); a
    /// fixed catalog just calls.
    /// </summary>
    T Invoke<T>(object pluginObject, string operation, Func<T> call) => call();
}

/// <summary>A catalog over a fixed set of method instances.</summary>
public sealed class StaticMethodCatalog(params IPeftMethod[] methods) : IMethodCatalog
{
    /// <inheritdoc />
    public IPeftMethod GetMethod(string name) =>
        methods.FirstOrDefault(m => m.Name == name) ?? throw Unknown("method", name, methods.Select(m => m.Name));

    /// <inheritdoc />
    public IPeftMethod GetMethodByPeftType(string peftType) =>
        methods.FirstOrDefault(m => m.PeftType == peftType) ?? throw Unknown("peft_type", peftType, methods.Select(m => m.PeftType));

    internal static ConfigException Unknown(string what, string value, IEnumerable<string> known)
    {
        var names = known.ToList();
        string? hint = KeyNames.DidYouMean(value, names);
        return new ConfigException($"unknown {what} '{value}'" + (hint is null ? "" : $"; did you mean '{hint}'?") +
            $" (available: {(names.Count == 0 ? "none — no method plugins loaded" : string.Join(", ", names))})", what);
    }
}
