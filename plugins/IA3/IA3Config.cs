using System.Text.Json.Nodes;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.IA3;

/// <summary>
/// PEFT's <c>IA3Config</c>: which linear layers get a learned scaling vector, and which of them are
/// feed-forward layers (scaled at their input rather than their output).
/// </summary>
public sealed class IA3Config : PeftConfig, ITargetModulesConfig
{
    /// <summary>A list of module names (exact or <c>.name</c> suffix), a regex string (full match) or <c>"all-linear"</c>.</summary>
    [ConfigKey("target_modules")]
    public JsonNode? TargetModules { get; set; }

    /// <summary>Modules never adapted: a list (exact or suffix) or a regex string (full match).</summary>
    [ConfigKey("exclude_modules")]
    public JsonNode? ExcludeModules { get; set; }

    /// <summary>
    /// Modules whose input (not output) is scaled: a list (a path matches when it ends with an entry, as PEFT's
    /// <c>key.endswith</c>) or a regex string (full match). A list must be a subset of a list-valued <c>target_modules</c>.
    /// </summary>
    [ConfigKey("feedforward_modules")]
    public JsonNode? FeedforwardModules { get; set; }

    /// <summary>True for layers storing (in, out) weights; PEFT resets it to false for Linear layers, as this plugin does.</summary>
    [ConfigKey("fan_in_fan_out")]
    public bool FanInFanOut { get; set; }

    /// <summary>Extra trainable modules (not supported: must be null or empty).</summary>
    [ConfigKey("modules_to_save")]
    public List<string>? ModulesToSave { get; set; }

    /// <summary>true: vectors start at 1 (a no-op); false: ~ N(0, 1) (debugging only).</summary>
    [ConfigKey("init_ia3_weights")]
    public bool InitIa3Weights { get; set; } = true;


    /// <summary>
    /// True when the layer at <paramref name="path"/> is a feed-forward layer (its input is scaled): the path ends
    /// with a <c>feedforward_modules</c> entry (PEFT's <c>endswith</c>) or fully matches a <c>feedforward_modules</c> regex.
    /// </summary>
    public bool IsFeedforward(string path) => TargetModulesJson.IsString(FeedforwardModules, out string? regex)
        ? ModulePattern.FullMatch(regex!, "feedforward_modules").IsMatch(path)
        : (TargetModulesJson.Strings(FeedforwardModules, "feedforward_modules") ?? []).Any(n => path.EndsWith(n, StringComparison.Ordinal));

    /// <inheritdoc />
    public override void Validate()
    {
        TargetModulesJson.Validate(TargetModules, "target_modules");
        TargetModulesJson.Validate(ExcludeModules, "exclude_modules");
        TargetModulesJson.Validate(FeedforwardModules, "feedforward_modules");
        if (ModulesToSave is { Count: > 0 })
            throw new ConfigException("modules_to_save is not supported by PeftHost's IA3", "modules_to_save");
        // PEFT: feedforward_modules must be a subset of target_modules (checked when both are lists).
        if (TargetModulesJson.Strings(FeedforwardModules is JsonArray ? FeedforwardModules : null, "feedforward_modules") is { } ff
            && TargetModulesJson.Strings(TargetModules is JsonArray ? TargetModules : null, "target_modules") is { } targets)
        {
            var missing = ff.Where(f => !targets.Contains(f)).ToList();
            if (missing.Count > 0)
                throw new ConfigException(
                    $"feedforward_modules should be a subset of target_modules; {string.Join(", ", missing.Select(m => $"'{m}'"))} not in target_modules",
                    "feedforward_modules");
        }
    }
}
