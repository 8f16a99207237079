using System.Text.Json.Nodes;

namespace PeftHost.Sdk;

/// <summary>Where a config's keys come from, which decides their spelling and strictness.</summary>
public enum ConfigKeyStyle
{
    /// <summary>PEFT's <c>adapter_config.json</c>: snake_case; unknown keys are warned about and ignored.</summary>
    AdapterConfigFile,

    /// <summary>A recipe's or the CLI's options: camelCase (snake_case also accepted); unknown keys are errors.</summary>
    RecipeOptions,
}

/// <summary>The raw values a method config is bound from.</summary>
/// <param name="Values">The JSON object holding the keys.</param>
/// <param name="Style">How keys are spelled and how strict binding is.</param>
/// <param name="Origin">Where the values came from (a file path or "recipe options"), for messages.</param>
/// <param name="Warn">Receives warnings such as ignored unknown keys.</param>
public sealed record ConfigSource(JsonObject Values, ConfigKeyStyle Style, string Origin, Action<string>? Warn = null)
{
    /// <summary>Values read from an <c>adapter_config.json</c> file.</summary>
    public static ConfigSource FromAdapterConfig(JsonObject values, string path, Action<string>? warn = null) =>
        new(values, ConfigKeyStyle.AdapterConfigFile, path, warn);

    /// <summary>Values given as recipe or command-line options.</summary>
    public static ConfigSource FromOptions(JsonObject values, string origin = "options") =>
        new(values, ConfigKeyStyle.RecipeOptions, origin);
}
