using System.Globalization;
using System.Text.Json.Nodes;
using Jint;
using Jint.Native;
using Jint.Native.Object;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Sdk;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// <c>params</c> and <c>defineParams</c>. The convention: a recipe declares its parameters and their
/// defaults once, <c>const p = defineParams({ r: 8, steps: 100 })</c>; every <c>--set key=value</c>
/// must name a declared parameter (a typo is an error with a did-you-mean) and is converted to the
/// default's type. <c>params</c> is that same object (importable anywhere); before
/// <c>defineParams</c> it holds the raw <c>--set</c> values.
/// </summary>
internal static class ParamsApi
{
    /// <summary>True once the recipe called <c>defineParams</c> (else the runner warns about unused --set values).</summary>
    public static bool Declared(RecipeSession s) => s.ParamsDeclared;

    /// <summary>Adds <c>params</c> and <c>defineParams</c>.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        var engine = s.Engine;
        var parameters = new JsObject(engine);
        foreach (var key in s.Parameters.Keys) parameters.Set(key, JsConvert.ToJs(engine, s.Parameters[key]));
        api.Add("params", parameters);

        api.Add("defineParams", s.Function("defineParams", 1, values =>
        {
            var args = new ApiArguments("defineParams", values).AtMost(1, "(defaults)");
            if (s.ParamsDeclared) throw new RecipeApiException("defineParams: parameters are already defined; call it once, at the top of the recipe");
            if (!args[0].IsObject() || args[0].IsArray() || args[0].IsCallable())
                throw new RecipeApiException($"defineParams: defaults must be an object like {{ r: 8, steps: 100 }}, got {JsDescribe.Value(args[0])}");
            var defaults = args[0].AsObject();
            var declared = defaults.GetOwnPropertyKeys(Jint.Runtime.Types.String).Select(k => k.ToString()).ToList();
            foreach (var key in s.Parameters.Keys.Where(k => !declared.Contains(k)))
            {
                string? hint = KeyNames.DidYouMean(key, declared);
                throw new RecipeApiException($"defineParams: --set {key}={s.Parameters.Raw(key)}: the recipe has no parameter '{key}'" +
                    (hint is null ? "" : $"; did you mean '{hint}'?") + $" (parameters: {(declared.Count == 0 ? "none" : string.Join(", ", declared))})");
            }
            foreach (var key in parameters.GetOwnPropertyKeys(Jint.Runtime.Types.String).ToList()) parameters.Delete(key);
            foreach (var key in declared)
            {
                var fallback = defaults.Get(key);
                var value = s.Parameters.Keys.Contains(key) ? Coerce(engine, key, s.Parameters.Raw(key), fallback) : fallback;
                parameters.Set(key, value);
            }
            s.ParamsDeclared = true;
            return parameters;
        }));
    }

    /// <summary>A <c>--set</c> value in the type of its default.</summary>
    private static JsValue Coerce(Engine engine, string key, string raw, JsValue fallback)
    {
        var parsed = RecipeParameters.Parse(raw);
        string Given() => $"--set {key}={raw}";
        if (fallback.IsNumber())
            return parsed is double d ? new JsNumber(d) : throw new RecipeApiException($"defineParams: {Given()}: '{key}' is a number (default {fallback})");
        if (fallback.IsBoolean())
            return parsed is bool b ? (b ? JsBoolean.True : JsBoolean.False) : throw new RecipeApiException($"defineParams: {Given()}: '{key}' is true or false (default {fallback})");
        if (fallback.IsString()) return new JsString(raw);
        if (fallback.IsArray())
        {
            var first = fallback.AsArray().ToArray().FirstOrDefault();
            var items = raw.TrimStart().StartsWith('[') ? ParseJson(raw, Given()) as JsonArray ?? throw new RecipeApiException($"defineParams: {Given()}: expected a JSON array")
                : new JsonArray(raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(p => (JsonNode?)JsonValue.Create(p)).ToArray());
            var converted = items.Select(item => first is not null && first.IsNumber() && item is JsonValue v && v.TryGetValue(out string? text)
                ? (object?)(double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) ? n : throw new RecipeApiException($"defineParams: {Given()}: '{key}' holds numbers"))
                : item).ToList();
            return JsConvert.ToJs(engine, converted);
        }
        if (fallback is ObjectInstance && !fallback.IsCallable())
            return JsConvert.ToJs(engine, ParseJson(raw, Given()) as JsonObject ?? throw new RecipeApiException($"defineParams: {Given()}: '{key}' is an object; give it as JSON"));
        return JsConvert.ToJs(engine, parsed);
    }

    private static JsonNode? ParseJson(string raw, string given)
    {
        try { return JsonNode.Parse(raw); }
        catch (System.Text.Json.JsonException e) { throw new RecipeApiException($"defineParams: {given}: not valid JSON ({e.Message})"); }
    }
}
