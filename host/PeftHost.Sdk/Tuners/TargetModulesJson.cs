using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// Reading and checking the JSON forms of PEFT's module-selection options (<c>target_modules</c>,
/// <c>exclude_modules</c> and the like: null, a list of names or a regex string; <c>layers_to_transform</c>:
/// an integer or a list of integers), with errors that name the offending key.
/// </summary>
public static class TargetModulesJson
{
    /// <summary>A list of strings from a JSON array (null for null); throws naming <paramref name="key"/> otherwise.</summary>
    /// <exception cref="ConfigException"><paramref name="node"/> is neither null nor an array of strings.</exception>
    public static List<string>? Strings(JsonNode? node, string key)
    {
        if (node is null) return null;
        if (node is not JsonArray array)
            throw new ConfigException($"{key} must be a list of module names or a regex string, got {node.ToJsonString()}", key);
        var list = new List<string>(array.Count);
        foreach (var item in array)
        {
            if (item is JsonValue v && v.GetValueKind() == JsonValueKind.String) list.Add(v.GetValue<string>());
            else throw new ConfigException($"{key} must contain strings only, got {item?.ToJsonString() ?? "null"}", key);
        }
        return list;
    }

    /// <summary>True when <paramref name="node"/> is a JSON string, given in <paramref name="text"/>.</summary>
    public static bool IsString(JsonNode? node, out string? text)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            text = v.GetValue<string>();
            return true;
        }
        text = null;
        return false;
    }

    /// <summary>
    /// Checks that <paramref name="node"/> is null, a list of strings, <see cref="TargetModuleMatcher.AllLinear"/>
    /// or a valid (full-match) regex string.
    /// </summary>
    /// <exception cref="ConfigException">It is not, naming <paramref name="key"/>.</exception>
    public static void Validate(JsonNode? node, string key)
    {
        if (IsString(node, out string? text))
        {
            if (!string.Equals(text, TargetModuleMatcher.AllLinear, StringComparison.OrdinalIgnoreCase)) _ = CheckFullMatchRegex(text!, key);
        }
        else _ = Strings(node, key);
    }

    /// <summary>Returns <paramref name="pattern"/> when it makes a valid full-match regular expression.</summary>
    /// <exception cref="ConfigException">It does not, naming <paramref name="key"/>.</exception>
    public static string CheckFullMatchRegex(string pattern, string key)
    {
        _ = ModulePattern.FullMatch(pattern, key);
        return pattern;
    }

    /// <summary>
    /// The layer indices of a <c>layers_to_transform</c> value: null for null, a list of one for an integer, the
    /// list for a list of integers.
    /// </summary>
    /// <exception cref="ConfigException">A value is not an integer, naming <paramref name="key"/>.</exception>
    public static IReadOnlyList<int>? LayerIndices(JsonNode? node, string key = "layers_to_transform") => node switch
    {
        null => null,
        JsonArray a => a.Select(n => ReadInt(n, key)).ToArray(),
        var n => [ReadInt(n, key)],
    };

    private static int ReadInt(JsonNode? node, string key)
    {
        try
        {
            if (node is null) throw new FormatException();
            return checked((int)JsonNumbers.ToInt64(node));
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or OverflowException)
        {
            throw new ConfigException($"{key} must be an integer or a list of integers, got {node?.ToJsonString() ?? "null"}", key);
        }
    }
}
