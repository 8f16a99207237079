using System.Collections;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Sdk;

/// <summary>
/// Binds a <see cref="PeftConfig"/> subclass from JSON by its <see cref="ConfigKeyAttribute"/>
/// keys, with type checks and did-you-mean errors, and writes it back with sorted keys.
/// </summary>
public static class ConfigBinder
{
    /// <summary>Keys the host consumes before binding (e.g. the recipe's <c>method</c>).</summary>
    private static readonly HashSet<string> HostKeys = ["method"];

    /// <summary>Creates and binds a <typeparamref name="T"/> from <paramref name="source"/>, then validates it.</summary>
    public static T Bind<T>(ConfigSource source, string peftType) where T : PeftConfig, new()
    {
        var config = new T { PeftType = peftType };
        var properties = KeyedProperties(typeof(T));
        foreach (var (rawKey, value) in source.Values)
        {
            if (HostKeys.Contains(rawKey)) continue;
            // Exact keys first: a few PEFT keys are themselves camelCase (AdaLoRA's deltaT).
            string snake = properties.ContainsKey(rawKey) ? rawKey : KeyNames.ToSnake(rawKey);
            if (!properties.TryGetValue(snake, out var property))
            {
                if (source.Style == ConfigKeyStyle.AdapterConfigFile)
                {
                    source.Warn?.Invoke($"{source.Origin}: unknown key '{rawKey}' ignored");
                    continue;
                }
                var known = properties.Keys.Where(k => k != "peft_type").Select(KeyNames.ToCamel);
                string? hint = KeyNames.DidYouMean(rawKey, known);
                throw new ConfigException(
                    $"unknown option '{rawKey}' for {peftType.ToLowerInvariant()}" + (hint is null ? "" : $"; did you mean '{hint}'?"),
                    rawKey);
            }
            if (snake == "peft_type") continue; // fixed by the method
            property.SetValue(config, Convert(value, property.PropertyType, rawKey));
        }
        config.Validate();
        return config;
    }

    /// <summary>Writes every keyed property of <paramref name="config"/>, keys sorted as PEFT does.</summary>
    public static JsonObject ToJson(PeftConfig config)
    {
        var sorted = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (key, property) in KeyedProperties(config.GetType()))
        {
            object? value = property.GetValue(config);
            if (value is null && property.GetCustomAttribute<ConfigKeyAttribute>()!.OmitWhenNull) continue;
            sorted[key] = ToNode(value);
        }
        var result = new JsonObject();
        foreach (var (key, node) in sorted) result[key] = node;
        return result;
    }

    /// <summary>The snake_case keys a config type accepts.</summary>
    public static IReadOnlyCollection<string> KeysOf(Type configType) => KeyedProperties(configType).Keys;

    private static Dictionary<string, PropertyInfo> KeyedProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => (p, attr: p.GetCustomAttribute<ConfigKeyAttribute>()))
            .Where(x => x.attr is not null)
            .ToDictionary(x => x.attr!.Key, x => x.p);

    private static object? Convert(JsonNode? node, Type target, string key)
    {
        if (node is null)
        {
            if (!target.IsValueType || Nullable.GetUnderlyingType(target) is not null) return null;
            throw new ConfigException($"option '{key}' may not be null", key);
        }
        var underlying = Nullable.GetUnderlyingType(target) ?? target;
        try
        {
            if (underlying == typeof(JsonNode)) return node.DeepClone();
            if (underlying == typeof(string)) return node.GetValue<string>();
            if (underlying == typeof(bool)) return node.GetValue<bool>();
            if (underlying == typeof(int)) return checked((int)ReadWhole(node));
            if (underlying == typeof(long)) return ReadWhole(node);
            if (underlying == typeof(double)) return JsonNumbers.ToDouble(node);
            if (underlying == typeof(float)) return (float)JsonNumbers.ToDouble(node);
            if (underlying == typeof(List<string>)) return node.AsArray().Select(n => n!.GetValue<string>()).ToList();
            if (underlying == typeof(List<int>)) return node.AsArray().Select(n => checked((int)ReadWhole(n!))).ToList();
            if (underlying == typeof(Dictionary<string, int>))
                return node.AsObject().ToDictionary(kv => kv.Key, kv => checked((int)ReadWhole(kv.Value!)));
            if (underlying == typeof(Dictionary<string, double>))
                return node.AsObject().ToDictionary(kv => kv.Key, kv => JsonNumbers.ToDouble(kv.Value!));
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or NullReferenceException)
        {
            throw new ConfigException($"option '{key}' must be {Describe(underlying)}, got {node.ToJsonString()}", key);
        }
        throw new InvalidOperationException($"config property for '{key}' has unsupported type {target.Name}");
    }

    private static long ReadWhole(JsonNode node) => JsonNumbers.ToInt64(node);

    private static string Describe(Type t) =>
        t == typeof(string) ? "a string" :
        t == typeof(bool) ? "true or false" :
        t == typeof(int) || t == typeof(long) ? "an integer" :
        t == typeof(double) || t == typeof(float) ? "a number" :
        t == typeof(List<string>) ? "a list of strings" :
        t == typeof(List<int>) ? "a list of integers" :
        t == typeof(Dictionary<string, int>) ? "an object of integers" :
        t == typeof(Dictionary<string, double>) ? "an object of numbers" : t.Name;

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        JsonNode n => n.DeepClone(),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        double d => JsonValue.Create(d),
        float f => JsonValue.Create((double)f),
        IDictionary dict => ToObject(dict),
        IEnumerable list => new JsonArray(list.Cast<object?>().Select(ToNode).ToArray()),
        _ => JsonSerializer.SerializeToNode(value),
    };

    private static JsonObject ToObject(IDictionary dict)
    {
        var obj = new JsonObject();
        foreach (var key in dict.Keys.Cast<object>().Select(k => k.ToString()!).Order(StringComparer.Ordinal))
            obj[key] = ToNode(dict[key]);
        return obj;
    }
}
