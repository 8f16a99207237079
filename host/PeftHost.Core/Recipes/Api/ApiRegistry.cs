using Jint.Native;

namespace PeftHost.Core.Recipes.Api;

/// <summary>The exports of the <c>"peft"</c> module, collected in documentation order.</summary>
internal sealed class ApiRegistry
{
    private readonly List<KeyValuePair<string, JsValue>> _exports = [];

    /// <summary>The exports.</summary>
    public IReadOnlyList<KeyValuePair<string, JsValue>> Exports => _exports;

    /// <summary>Adds an export; names are unique.</summary>
    public void Add(string name, JsValue value)
    {
        if (_exports.Any(e => e.Key == name)) throw new InvalidOperationException($"'{name}' is exported twice");
        _exports.Add(new(name, value));
    }
}
