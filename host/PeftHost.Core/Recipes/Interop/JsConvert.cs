using System.Collections;
using System.Globalization;
using System.Text.Json.Nodes;
using Jint;
using Jint.Native;

namespace PeftHost.Core.Recipes.Interop;

/// <summary>
/// Converts between plain JavaScript values and host data. Only plain data crosses: numbers,
/// strings, booleans, null, arrays and plain objects — never CLR objects, so nothing of the host's
/// types becomes reachable from a script.
/// </summary>
public static class JsConvert
{
    /// <summary>A plain JS value as JSON (for method configs); functions, handles and symbols are errors naming <paramref name="path"/>.</summary>
    public static JsonNode? ToJson(JsValue value, string path)
    {
        if (value.IsUndefined() || value.IsNull()) return null;
        if (value.IsBoolean()) return JsonValue.Create(value.AsBoolean());
        if (value.IsString()) return JsonValue.Create(value.AsString());
        if (value.IsNumber())
        {
            double d = value.AsNumber();
            if (!double.IsFinite(d)) throw new RecipeApiException($"{path} must be a finite number, got {d.ToString(CultureInfo.InvariantCulture)}");
            return Math.Floor(d) == d && Math.Abs(d) < 9e15 ? JsonValue.Create((long)d) : JsonValue.Create(d);
        }
        if (value.IsArray())
        {
            var array = new JsonArray();
            var items = value.AsArray().ToArray();
            for (int i = 0; i < items.Length; i++) array.Add(ToJson(items[i], $"{path}[{i}]"));
            return array;
        }
        if (value.IsObject() && !value.IsCallable())
        {
            var obj = new JsonObject();
            var o = value.AsObject();
            foreach (var key in o.GetOwnPropertyKeys(Jint.Runtime.Types.String))
                obj[key.ToString()] = ToJson(o.Get(key), $"{path}.{key}");
            return obj;
        }
        throw new RecipeApiException($"{path} must be plain data (numbers, strings, booleans, arrays, objects), got {JsDescribe.Value(value)}");
    }

    /// <summary>
    /// Host data as a fresh JS value: null, bool, numbers, strings, JSON nodes, dictionaries with
    /// string keys (→ objects), sequences (→ arrays), <see cref="JsValue"/>s as they are.
    /// Anything else is a programming error in the API, not something to wrap.
    /// </summary>
    public static JsValue ToJs(Engine engine, object? value) => value switch
    {
        null => JsValue.Null,
        JsValue js => js,
        bool b => b ? JsBoolean.True : JsBoolean.False,
        string s => new JsString(s),
        double d => new JsNumber(d),
        float f => new JsNumber(f),
        int i => new JsNumber(i),
        long l => new JsNumber(l),
        TimeSpan t => new JsNumber(t.TotalSeconds),
        JsonNode node => FromJson(engine, node),
        IDictionary dictionary => FromDictionary(engine, dictionary),
        IEnumerable sequence => new JsArray(engine, sequence.Cast<object?>().Select(e => ToJs(engine, e)).ToArray()),
        Enum e => new JsString(e.ToString()),
        _ => throw new InvalidOperationException($"the recipe API tried to hand a {value.GetType().Name} to JavaScript"),
    };

    /// <summary>A JS object with the given properties, in order.</summary>
    public static JsObject Object(Engine engine, IEnumerable<KeyValuePair<string, object?>> properties)
    {
        var obj = new JsObject(engine);
        foreach (var (key, v) in properties) obj.FastSetDataProperty(key, ToJs(engine, v));
        return obj;
    }

    private static JsValue FromDictionary(Engine engine, IDictionary dictionary)
    {
        var obj = new JsObject(engine);
        foreach (DictionaryEntry entry in dictionary) obj.FastSetDataProperty(Convert.ToString(entry.Key, CultureInfo.InvariantCulture)!, ToJs(engine, entry.Value));
        return obj;
    }

    private static JsValue FromJson(Engine engine, JsonNode node) => node switch
    {
        JsonObject o => Object(engine, o.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value))),
        JsonArray a => new JsArray(engine, a.Select(e => e is null ? JsValue.Null : FromJson(engine, e)).ToArray()),
        JsonValue v when v.TryGetValue(out bool b) => b ? JsBoolean.True : JsBoolean.False,
        JsonValue v when v.TryGetValue(out string? s) => new JsString(s!),
        JsonValue v when v.TryGetValue(out double d) => new JsNumber(d),
        _ => new JsString(node.ToJsonString()),
    };
}
