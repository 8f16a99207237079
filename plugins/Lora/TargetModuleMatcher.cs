using System.Globalization;
using System.Text.RegularExpressions;

namespace PeftHost.Plugins.Lora;

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
    private readonly Regex? _targetRegex;
    private readonly HashSet<string>? _targetNames;
    private readonly Regex? _excludeRegex;
    private readonly HashSet<string>? _excludeNames;
    private readonly IReadOnlyList<int>? _layerIndices;
    private readonly IReadOnlyList<Regex> _layerIndexPatterns;

    /// <summary>Builds a matcher from explicit settings (the names of a list, or a regex, for targets).</summary>
    /// <param name="targetNames">Target names (list semantics), or null when <paramref name="targetRegex"/> is used.</param>
    /// <param name="targetRegex">A full-match target regex, or null.</param>
    /// <param name="excludeNames">Excluded names (list semantics), or null.</param>
    /// <param name="excludeRegex">A full-match exclusion regex, or null.</param>
    /// <param name="layerIndices">Layer indices to keep (suffix matches only); null or empty for all.</param>
    /// <param name="layerPatterns">Names of the module lists holding layers; null or empty for any.</param>
    public TargetModuleMatcher(IEnumerable<string>? targetNames, string? targetRegex,
        IEnumerable<string>? excludeNames = null, string? excludeRegex = null,
        IReadOnlyList<int>? layerIndices = null, IReadOnlyList<string>? layerPatterns = null)
    {
        if ((targetNames is null) == (targetRegex is null))
            throw new ArgumentException("give either target names or a target regex");
        _targetNames = targetNames?.ToHashSet(StringComparer.Ordinal);
        _targetRegex = targetRegex is null ? null : FullMatch(targetRegex);
        _excludeNames = excludeNames?.ToHashSet(StringComparer.Ordinal);
        _excludeRegex = excludeRegex is null ? null : FullMatch(excludeRegex);
        _layerIndices = layerIndices is { Count: > 0 } ? layerIndices : null;
        _layerIndexPatterns = layerPatterns is { Count: > 0 }
            ? layerPatterns.Select(p => new Regex($@"^.*\.{p}\.(\d+)\.", RegexOptions.CultureInvariant)).ToArray()
            : [AnyLayerList()];
    }

    /// <summary>
    /// The matcher for <paramref name="config"/>. <c>"all-linear"</c> must have been expanded into
    /// <paramref name="resolvedTargetNames"/> (and a missing <c>target_modules</c> into the defaults).
    /// </summary>
    public static TargetModuleMatcher FromConfig(LoraConfig config, IReadOnlyList<string>? resolvedTargetNames = null)
    {
        var names = resolvedTargetNames ?? config.TargetModuleNames;
        string? regex = resolvedTargetNames is null ? config.TargetModuleRegex : null;
        if (names is null && regex is null)
            throw new InvalidOperationException("target_modules must be resolved before matching");
        return new TargetModuleMatcher(names, regex, config.ExcludeModuleNames, config.ExcludeModuleRegex,
            config.LayerIndices, config.LayerPatterns);
    }

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

    private static Regex FullMatch(string pattern) => new($"^(?:{pattern})\\z", RegexOptions.CultureInvariant);

    private static Regex AnyLayerList() => new(@"^.*\.[^.]*\.(\d+)\.", RegexOptions.CultureInvariant);
}
