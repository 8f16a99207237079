using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftHost.Sdk;

namespace PeftHost.Plugins.AdaLora;

/// <summary>
/// Which module paths an adapter targets, as PEFT's <c>check_target_module_exists</c> decides:
/// <c>exclude_modules</c> first (a regex string must match the whole path; a list entry matches the path
/// or its <c>.name</c> suffix); then a regex <c>target_modules</c> must match the whole path, a list entry
/// must equal the path or be its <c>.name</c> suffix; for suffix matches <c>layers_to_transform</c> keeps
/// only paths whose layer index (the number after <c>.{layers_pattern}.</c>, or after any <c>.name.</c>) is listed.
/// </summary>
internal sealed class TargetModules
{
    /// <summary>PEFT's shorthand for every linear layer except the output layer.</summary>
    public const string AllLinear = "all-linear";

    private readonly HashSet<string>? _names;
    private readonly Regex? _regex;
    private readonly HashSet<string>? _excludeNames;
    private readonly Regex? _excludeRegex;
    private readonly IReadOnlyList<int>? _layers;
    private readonly IReadOnlyList<Regex> _layerPatterns;

    private TargetModules(HashSet<string>? names, Regex? regex, HashSet<string>? excludeNames, Regex? excludeRegex,
        IReadOnlyList<int>? layers, IReadOnlyList<string>? layerPatterns)
    {
        _names = names;
        _regex = regex;
        _excludeNames = excludeNames;
        _excludeRegex = excludeRegex;
        _layers = layers is { Count: > 0 } ? layers : null;
        _layerPatterns = layerPatterns is { Count: > 0 }
            ? layerPatterns.Select(p => new Regex($@"^.*\.{p}\.(\d+)\.", RegexOptions.CultureInvariant)).ToArray()
            : [new Regex(@"^.*\.[^.]*\.(\d+)\.", RegexOptions.CultureInvariant)];
    }

    /// <summary>
    /// A matcher over <paramref name="targets"/> (list, regex string or "all-linear", already resolved against
    /// <paramref name="linearPaths"/>), <paramref name="exclude"/> and the layer filter.
    /// </summary>
    public static TargetModules Create(JsonNode? targets, JsonNode? exclude, IEnumerable<string> linearPaths,
        IReadOnlyList<int>? layers = null, IReadOnlyList<string>? layerPatterns = null)
    {
        HashSet<string>? names = null;
        Regex? regex = null;
        if (IsString(targets, out string? text))
        {
            if (string.Equals(text, AllLinear, StringComparison.OrdinalIgnoreCase))
                names = linearPaths.Where(p => p != "lm_head").Select(p => p[(p.LastIndexOf('.') + 1)..]).ToHashSet(StringComparer.Ordinal);
            else regex = FullMatch(text!, "target_modules");
        }
        else names = Strings(targets, "target_modules")?.ToHashSet(StringComparer.Ordinal)
            ?? throw new ConfigException("target_modules must be given", "target_modules");

        HashSet<string>? excludeNames = null;
        Regex? excludeRegex = null;
        if (IsString(exclude, out string? excludeText)) excludeRegex = FullMatch(excludeText!, "exclude_modules");
        else excludeNames = Strings(exclude, "exclude_modules")?.ToHashSet(StringComparer.Ordinal);
        return new TargetModules(names, regex, excludeNames, excludeRegex, layers, layerPatterns);
    }

    /// <summary>True when the module at <paramref name="path"/> is a target and not excluded.</summary>
    public bool Matches(string path)
    {
        if (_excludeRegex is not null ? _excludeRegex.IsMatch(path) : _excludeNames is not null && EndsWithAny(path, _excludeNames))
            return false;
        if (_regex is not null) return _regex.IsMatch(path);
        if (_names!.Contains(path)) return true;
        if (!EndsWithAny(path, _names)) return false;
        if (_layers is null) return true;
        foreach (var pattern in _layerPatterns)
        {
            var m = pattern.Match(path);
            if (m.Success && int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                return _layers.Contains(index);
        }
        return false;
    }

    /// <summary>
    /// The modules adapters may target, each once under its Hugging Face path. Left out: the root, alias paths
    /// (TorchSharp's field registration names such as <c>_q</c> or <c>&lt;Layers&gt;k__BackingField</c>; Hugging Face names
    /// never start with '_' or '&lt;'), repeated modules, everything inside a tuner wrapper (a module with a
    /// <c>base_layer</c> child: LoRA, AdaLoRA, IA3 layers) and the prompt encoders.
    /// </summary>
    public static List<(string Path, TorchSharp.torch.nn.Module Module)> Candidates(IPeftModelSurface model)
    {
        var all = model.NamedModules().Where(m => m.Path.Length > 0).ToList();
        var wrappers = all.Where(m => m.Module.named_children().Any(c => c.name == "base_layer")).Select(m => m.Path + ".").ToList();
        var seen = new HashSet<TorchSharp.torch.nn.Module>(ReferenceEqualityComparer.Instance);
        var result = new List<(string, TorchSharp.torch.nn.Module)>();
        foreach (var (path, module) in all)
        {
            var segments = path.Split('.');
            if (segments[0] == "prompt_encoder" || segments.Any(s => s.StartsWith('_') || s.StartsWith('<'))) continue;
            if (wrappers.Any(w => path.StartsWith(w, StringComparison.Ordinal))) continue;
            if (seen.Add(module)) result.Add((path, module));
        }
        return result;
    }

    /// <summary>A list of strings from a JSON array (null for null); throws naming <paramref name="key"/> otherwise.</summary>
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

    /// <summary>True when <paramref name="node"/> is a JSON string.</summary>
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

    /// <summary>Checks that <paramref name="node"/> is null, a list of strings or a valid regex string.</summary>
    public static void Validate(JsonNode? node, string key)
    {
        if (IsString(node, out string? text))
        {
            if (!string.Equals(text, AllLinear, StringComparison.OrdinalIgnoreCase)) _ = FullMatch(text!, key);
        }
        else _ = Strings(node, key);
    }

    private static bool EndsWithAny(string path, HashSet<string> names) =>
        names.Contains(path) || names.Any(n => path.EndsWith("." + n, StringComparison.Ordinal));

    private static Regex FullMatch(string pattern, string key)
    {
        try { return new Regex($"^(?:{pattern})\\z", RegexOptions.CultureInvariant); }
        catch (ArgumentException e) { throw new ConfigException($"{key}: '{pattern}' is not a valid regular expression ({e.Message})", key); }
    }
}
