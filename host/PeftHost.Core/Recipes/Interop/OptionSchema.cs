using Jint;
using Jint.Native;
using Jint.Native.Object;
using PeftHost.Sdk;

namespace PeftHost.Core.Recipes.Interop;

/// <summary>
/// The options object a recipe function accepts. <see cref="Read"/> validates a plain JS object
/// against it: an unknown key is an error naming it with a did-you-mean, a value of the wrong
/// type an error naming the key and what it got.
/// </summary>
public sealed class OptionSchema
{
    private readonly Dictionary<string, OptionSpec> _specs;

    /// <summary>Declares the options of <paramref name="owner"/> (a function name, for messages).</summary>
    public OptionSchema(string owner, params OptionSpec[] specs)
    {
        Owner = owner;
        Specs = specs;
        _specs = specs.ToDictionary(s => s.Name, StringComparer.Ordinal);
    }

    /// <summary>The function the options belong to.</summary>
    public string Owner { get; }

    /// <summary>The options, in documentation order.</summary>
    public IReadOnlyList<OptionSpec> Specs { get; }

    /// <summary>
    /// Validates <paramref name="value"/> (undefined or null: no options) and returns the typed view.
    /// <paramref name="allowExtra"/> lets keys outside the schema through (for method configs checked elsewhere).
    /// </summary>
    public OptionValues Read(JsValue value, bool allowExtra = false)
    {
        var found = new Dictionary<string, JsValue>(StringComparer.Ordinal);
        var extra = new Dictionary<string, JsValue>(StringComparer.Ordinal);
        if (value.IsUndefined() || value.IsNull()) return new OptionValues(this, found, extra);
        if (!value.IsObject() || value.IsArray() || value.IsCallable())
            throw new RecipeApiException($"{Owner}: options must be an object like {{ {Specs.FirstOrDefault()?.Name ?? "key"}: … }}, got {JsDescribe.Value(value)}");
        var obj = value.AsObject();
        foreach (var key in obj.GetOwnPropertyKeys(Jint.Runtime.Types.String))
        {
            string name = key.ToString();
            var v = obj.Get(key);
            if (!_specs.TryGetValue(name, out var spec))
            {
                if (allowExtra) { extra[name] = v; continue; }
                throw Unknown(name);
            }
            if (v.IsUndefined() || v.IsNull()) continue;
            Check(spec, v);
            found[name] = v;
        }
        return new OptionValues(this, found, extra);
    }

    /// <summary>The error for an unknown key, with a did-you-mean when one is close.</summary>
    public RecipeApiException Unknown(string name)
    {
        string? hint = KeyNames.DidYouMean(name, _specs.Keys) ?? KeyNames.DidYouMean(KeyNames.ToCamel(name), _specs.Keys);
        return new RecipeApiException($"{Owner}: unknown option '{name}'" + (hint is null ? "" : $"; did you mean '{hint}'?") +
            $" (options: {(_specs.Count == 0 ? "none" : string.Join(", ", _specs.Keys))})");
    }

    private void Check(OptionSpec spec, JsValue v)
    {
        bool ok = spec.Kind switch
        {
            OptionKind.Number => v.IsNumber() && double.IsFinite(v.AsNumber()),
            OptionKind.Integer => v.IsNumber() && double.IsFinite(v.AsNumber()) && Math.Floor(v.AsNumber()) == v.AsNumber(),
            OptionKind.Boolean => v.IsBoolean(),
            OptionKind.String => v.IsString(),
            OptionKind.Function => v.IsCallable(),
            OptionKind.StringArray => v.IsArray() && v.AsArray().ToArray().All(e => e.IsString()),
            OptionKind.StringOrStringArray => v.IsString() || (v.IsArray() && v.AsArray().ToArray().All(e => e.IsString())),
            OptionKind.NumberArray => v.IsArray() && v.AsArray().ToArray().All(e => e.IsNumber()),
            OptionKind.Handle => v.IsObject(),
            OptionKind.Object => v.IsObject() && !v.IsArray() && !v.IsCallable(),
            OptionKind.ObjectArray => v.IsArray() && v.AsArray().ToArray().All(e => e.IsObject() && !e.IsArray() && !e.IsCallable()),
            _ => true,
        };
        if (!ok) throw new RecipeApiException($"{Owner}: option '{spec.Name}' must be {Describe(spec.Kind)}, got {JsDescribe.Value(v)}");
    }

    /// <summary>"a number", "an array of strings"…</summary>
    public static string Describe(OptionKind kind) => kind switch
    {
        OptionKind.Number => "a number",
        OptionKind.Integer => "a whole number",
        OptionKind.Boolean => "true or false",
        OptionKind.String => "a string",
        OptionKind.Function => "a function",
        OptionKind.StringArray => "an array of strings",
        OptionKind.StringOrStringArray => "a string or an array of strings",
        OptionKind.NumberArray => "an array of numbers",
        OptionKind.Handle => "an object returned by the API",
        OptionKind.Object => "an object",
        OptionKind.ObjectArray => "an array of objects",
        _ => kind.ToString(),
    };
}

/// <summary>Validated options: typed reads with defaults.</summary>
public sealed class OptionValues
{
    private readonly OptionSchema _schema;
    private readonly Dictionary<string, JsValue> _values;

    internal OptionValues(OptionSchema schema, Dictionary<string, JsValue> values, Dictionary<string, JsValue> extra)
    {
        _schema = schema;
        _values = values;
        Extra = extra;
    }

    /// <summary>Keys outside the schema (only when the schema was read with allowExtra).</summary>
    public IReadOnlyDictionary<string, JsValue> Extra { get; }

    /// <summary>True when the recipe gave <paramref name="name"/>.</summary>
    public bool Has(string name) => _values.ContainsKey(Known(name));

    /// <summary>The raw value, or undefined.</summary>
    public JsValue Raw(string name) => _values.TryGetValue(Known(name), out var v) ? v : JsValue.Undefined;

    /// <summary>A number option.</summary>
    public double Number(string name, double fallback) => _values.TryGetValue(Known(name), out var v) ? v.AsNumber() : fallback;

    /// <summary>A number option that may be absent.</summary>
    public double? Number(string name) => _values.TryGetValue(Known(name), out var v) ? v.AsNumber() : null;

    /// <summary>A whole-number option.</summary>
    public int Int(string name, int fallback) => Int(name) ?? fallback;

    /// <summary>A whole-number option that may be absent.</summary>
    public int? Int(string name)
    {
        if (!_values.TryGetValue(Known(name), out var v)) return null;
        double d = v.AsNumber();
        if (d is > int.MaxValue or < int.MinValue) throw new RecipeApiException($"{_schema.Owner}: option '{name}' = {d} is out of range");
        return (int)d;
    }

    /// <summary>A whole-number option that may be absent, as a long.</summary>
    public long? Long(string name) => _values.TryGetValue(Known(name), out var v) ? (long)v.AsNumber() : null;

    /// <summary>A boolean option.</summary>
    public bool Bool(string name, bool fallback) => _values.TryGetValue(Known(name), out var v) ? v.AsBoolean() : fallback;

    /// <summary>A string option.</summary>
    public string String(string name, string fallback) => String(name) ?? fallback;

    /// <summary>A string option that may be absent.</summary>
    public string? String(string name) => _values.TryGetValue(Known(name), out var v) ? v.AsString() : null;

    /// <summary>A string-array option (a single string counts as one element) that may be absent.</summary>
    public IReadOnlyList<string>? Strings(string name)
    {
        if (!_values.TryGetValue(Known(name), out var v)) return null;
        return v.IsString() ? [v.AsString()] : v.AsArray().ToArray().Select(e => e.AsString()).ToArray();
    }

    /// <summary>A number-array option that may be absent.</summary>
    public IReadOnlyList<double>? Numbers(string name) =>
        _values.TryGetValue(Known(name), out var v) ? v.AsArray().ToArray().Select(e => e.AsNumber()).ToArray() : null;

    /// <summary>A callback option, or null.</summary>
    public JsValue? Function(string name) => _values.TryGetValue(Known(name), out var v) ? v : null;

    /// <summary>A nested object option, or null.</summary>
    public ObjectInstance? Object(string name) => _values.TryGetValue(Known(name), out var v) ? v.AsObject() : null;

    private string Known(string name) =>
        _schema.Specs.Any(s => s.Name == name) ? name : throw new InvalidOperationException($"{_schema.Owner} reads option '{name}' it does not declare");
}
