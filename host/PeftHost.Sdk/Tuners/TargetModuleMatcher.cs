using System.Globalization;
using System.Text.Json.Nodes;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// Decides which module paths an adapter targets, exactly as PEFT's
/// <c>tuners_utils.check_target_module_exists</c> does:
/// <list type="bullet">
/// <item><c>exclude_modules</c> first: a regex string must match the whole path; a list matches a path equal to an
/// entry or ending in <c>"." + entry</c>.</item>
/// <item>A regex <c>target_modules</c> string must match the whole path (<c>re.fullmatch</c>).</item>
/// <item>A list matches a path equal to an entry (no layer filtering then) or ending in <c>"." + entry</c>; in the
/// suffix case <c>layers_to_transform</c> keeps only paths whose layer index — the number after
/// <c>.{layers_pattern}.</c>, or after any <c>.name.</c> when no pattern is given — is listed.</item>
/// </list>
/// </summary>
public sealed class TargetModuleMatcher
{
    /// <summary>PEFT's <c>target_modules</c> shorthand for every linear layer except the output layer.</summary>
    public const string AllLinear = "all-linear";

    private readonly ModulePattern? _targetRegex;
    private readonly HashSet<string>? _targetNames;
    private readonly ModulePattern? _excludeRegex;
    private readonly HashSet<string>? _excludeNames;
    private readonly IReadOnlyList<int>? _layerIndices;
    private readonly IReadOnlyList<ModulePattern> _layerIndexPatterns;

    /// <summary>Builds a matcher from explicit settings (the names of a list, or a regex, for targets).</summary>
    /// <param name="targetNames">Target names (list semantics), or null when <paramref name="targetRegex"/> is used.</param>
    /// <param name="targetRegex">A full-match target regex, or null.</param>
    /// <param name="excludeNames">Excluded names (list semantics), or null.</param>
    /// <param name="excludeRegex">A full-match exclusion regex, or null.</param>
    /// <param name="layerIndices">Layer indices to keep (suffix matches only); null or empty for all.</param>
    /// <param name="layerPatterns">Names of the module lists holding layers; null or empty for any.</param>
    /// <exception cref="ArgumentException">Both or neither of the target forms are given.</exception>
    /// <exception cref="ConfigException">A regex is invalid, naming its key.</exception>
    public TargetModuleMatcher(IEnumerable<string>? targetNames, string? targetRegex,
        IEnumerable<string>? excludeNames = null, string? excludeRegex = null,
        IReadOnlyList<int>? layerIndices = null, IReadOnlyList<string>? layerPatterns = null)
    {
        if ((targetNames is null) == (targetRegex is null))
            throw new ArgumentException("give either target names or a target regex");
        _targetNames = targetNames?.ToHashSet(StringComparer.Ordinal);
        _targetRegex = targetRegex is null ? null : ModulePattern.FullMatch(targetRegex, "target_modules");
        _excludeNames = excludeNames?.ToHashSet(StringComparer.Ordinal);
        _excludeRegex = excludeRegex is null ? null : ModulePattern.FullMatch(excludeRegex, "exclude_modules");
        _layerIndices = layerIndices is { Count: > 0 } ? layerIndices : null;
        _layerIndexPatterns = layerPatterns is { Count: > 0 }
            ? layerPatterns.Select(p => ModulePattern.Create($@"^.*\.{p}\.(\d+)\.", p, "layers_pattern")).ToArray()
            : [AnyLayerList];
    }

    /// <summary>
    /// The matcher for the JSON config values <paramref name="targets"/> (a list, a regex string or
    /// <see cref="AllLinear"/>, which is resolved against <paramref name="linearPaths"/>: the last segment of every
    /// linear path but <c>lm_head</c>) and <paramref name="exclude"/> (null, a list or a regex string), with the layer filter.
    /// </summary>
    /// <param name="targets">The <c>target_modules</c> value; must not be null.</param>
    /// <param name="exclude">The <c>exclude_modules</c> value.</param>
    /// <param name="linearPaths">The model's linear module paths (for <see cref="AllLinear"/>).</param>
    /// <param name="layerIndices">Layer indices to keep (suffix matches only); null or empty for all.</param>
    /// <param name="layerPatterns">Names of the module lists holding layers; null or empty for any.</param>
    /// <exception cref="ConfigException">A value is malformed, <paramref name="targets"/> is null or a regex is invalid.</exception>
    public static TargetModuleMatcher FromJson(JsonNode? targets, JsonNode? exclude, IEnumerable<string> linearPaths,
        IReadOnlyList<int>? layerIndices = null, IReadOnlyList<string>? layerPatterns = null)
    {
        List<string>? names = null;
        string? regex = null;
        if (TargetModulesJson.IsString(targets, out string? text))
        {
            if (string.Equals(text, AllLinear, StringComparison.OrdinalIgnoreCase))
                names = AllLinearNames(linearPaths);
            else regex = TargetModulesJson.CheckFullMatchRegex(text!, "target_modules");
        }
        else names = TargetModulesJson.Strings(targets, "target_modules")
            ?? throw new ConfigException("target_modules must be given", "target_modules");

        List<string>? excludeNames = null;
        string? excludeRegex = null;
        if (TargetModulesJson.IsString(exclude, out string? excludeText))
            excludeRegex = TargetModulesJson.CheckFullMatchRegex(excludeText!, "exclude_modules");
        else excludeNames = TargetModulesJson.Strings(exclude, "exclude_modules");
        return new TargetModuleMatcher(names, regex, excludeNames, excludeRegex, layerIndices, layerPatterns);
    }

    /// <summary>
    /// What <see cref="AllLinear"/> stands for (PEFT's <c>_maybe_include_all_linear_layers</c>): the last segment of
    /// every linear path but the output layer <c>lm_head</c>, each once, in ordinal order.
    /// </summary>
    /// <param name="linearPaths">The model's linear module paths.</param>
    public static List<string> AllLinearNames(IEnumerable<string> linearPaths) => linearPaths
        .Where(p => p != "lm_head")
        .Select(p => p[(p.LastIndexOf('.') + 1)..])
        .Distinct(StringComparer.Ordinal)
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>True when <paramref name="path"/> is excluded by <c>exclude_modules</c>.</summary>
    public bool IsExcluded(string path)
    {
        if (_excludeRegex is not null) return _excludeRegex.IsMatch(path);
        return _excludeNames is not null && (_excludeNames.Contains(path) || _excludeNames.Any(n => path.EndsWith("." + n, StringComparison.Ordinal)));
    }

    /// <summary>True when the module at <paramref name="path"/> is a target (and not excluded).</summary>
    public bool Matches(string path)
    {
        if (IsExcluded(path)) return false;
        if (_targetRegex is not null) return _targetRegex.IsMatch(path);
        if (_targetNames!.Contains(path)) return true; // named exactly: no layer filtering, as in PEFT
        if (!_targetNames.Any(n => path.EndsWith("." + n, StringComparison.Ordinal))) return false;
        if (_layerIndices is null) return true;
        int? index = LayerIndexOf(path);
        return index is int i && _layerIndices.Contains(i);
    }

    /// <summary>The layer index in <paramref name="path"/> per the layer patterns, or null when there is none.</summary>
    public int? LayerIndexOf(string path)
    {
        foreach (var pattern in _layerIndexPatterns)
        {
            var m = pattern.Match(path);
            if (m.Success && int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                return index;
        }
        return null;
    }

    /// <summary>
    /// The modules adapters may target, from the model's canonical listing (<see cref="IPeftModelSurface.NamedModules"/>).
    /// Left out: the root, everything inside a wrapper that holds adapters (PEFT's tuner layers keep the adapted module
    /// as <c>base_layer</c>, its <c>ModulesToSaveWrapper</c> as <c>original_module</c>; the wrappers themselves stay) and
    /// the prompt encoders (<see cref="PromptEncoderSlot.ContainerName"/>).
    /// </summary>
    public static List<(string Path, TorchSharp.torch.nn.Module Module)> Candidates(IPeftModelSurface model)
    {
        var all = model.NamedModules().Where(m => m.Path.Length > 0).ToList();
        var wrappers = all.Where(m => m.Module.named_children().Any(c => c.name is LinearTunerLayer.BaseLayerName or OriginalModuleName))
            .Select(m => m.Path + ".").ToList();
        return all.Where(m => m.Path.Split('.')[0] != PromptEncoderSlot.ContainerName && !wrappers.Any(w => m.Path.StartsWith(w, StringComparison.Ordinal)))
            .ToList();
    }

    /// <summary>The child name under which PEFT's <c>ModulesToSaveWrapper</c> keeps the module it copies.</summary>
    public const string OriginalModuleName = "original_module";

    private static readonly ModulePattern AnyLayerList = ModulePattern.Create(@"^.*\.[^.]*\.(\d+)\.", "", "layers_pattern");
}
