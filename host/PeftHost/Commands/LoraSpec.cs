using System.Globalization;
using System.Text.Json.Nodes;
using PeftHost.Sdk;

namespace PeftHost.Cli.Commands;

/// <summary>Parses the compact <c>--lora r=8,alpha=16,targets=q_proj+v_proj</c> form into LoRA options.</summary>
public static class LoraSpec
{
    private static readonly Dictionary<string, string> Aliases = new()
    {
        ["alpha"] = "loraAlpha",
        ["targets"] = "targetModules",
        ["dropout"] = "loraDropout",
        ["rslora"] = "useRslora",
        ["dora"] = "useDora",
    };

    /// <summary>The options object; values are numbers, booleans, '+'-separated lists for targets, or strings.</summary>
    public static JsonObject Parse(string spec)
    {
        var options = new JsonObject();
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new ConfigException($"--lora: '{part}' is not key=value");
            string key = part[..eq].Trim(), value = part[(eq + 1)..].Trim();
            if (!Aliases.ContainsKey(key) && KeyNames.DidYouMean(key, Aliases.Keys) is string near && near != key)
                throw new ConfigException($"--lora: unknown key '{key}'; did you mean '{near}'?", key);
            string option = Aliases.GetValueOrDefault(key, KeyNames.ToCamel(key));
            options[option] = option == "targetModules" && value != "all-linear"
                ? new JsonArray(value.Split('+', StringSplitOptions.RemoveEmptyEntries).Select(v => (JsonNode)v).ToArray())
                : Scalar(value);
        }
        return options;
    }

    private static JsonNode Scalar(string value) =>
        bool.TryParse(value, out bool b) ? JsonValue.Create(b)
        : long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l) ? JsonValue.Create(l)
        : double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? JsonValue.Create(d)
        : JsonValue.Create(value);
}
