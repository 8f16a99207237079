using System.Text.Json.Nodes;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// The module-selection options of a config whose method adapts target modules, under PEFT's keys: what
/// <see cref="LinearTunerMethod{TConfig, TLayer}"/> reads to find the targets. The config declares the properties
/// (with their <see cref="ConfigKeyAttribute"/>s); a method without layer filtering leaves the layer members out.
/// </summary>
public interface ITargetModulesConfig
{
    /// <summary><c>target_modules</c>: null (the method's defaults), a list of names, a full-match regex or "all-linear"; the driver writes the resolved list back.</summary>
    JsonNode? TargetModules { get; set; }

    /// <summary><c>exclude_modules</c>: null, a list of names or a full-match regex.</summary>
    JsonNode? ExcludeModules { get; }

    /// <summary>The layer indices of <c>layers_to_transform</c>; null or empty for every layer.</summary>
    IReadOnlyList<int>? LayerIndices => null;

    /// <summary>The module-list names of <c>layers_pattern</c>; null or empty for any list.</summary>
    IReadOnlyList<string>? LayerPatterns => null;
}
