using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.Lora;

/// <summary>How the LoRA matrices of a new adapter are initialised (PEFT's <c>init_lora_weights</c>).</summary>
public enum LoraInitKind
{
    /// <summary><c>true</c>: A kaiming-uniform (a = √5), B zeros — the adapter starts as a no-op.</summary>
    Default,

    /// <summary><c>false</c>: A and B both keep <c>nn.Linear</c>'s random init — not a no-op (debugging).</summary>
    Random,

    /// <summary><c>"gaussian"</c>: A ~ N(0, σ = 1/r), B zeros.</summary>
    Gaussian,

    /// <summary><c>"pissa"</c> / <c>"pissa_niter_N"</c>: principal singular vectors of W into A and B, the residual stays in W.</summary>
    Pissa,

    /// <summary><c>"olora"</c>: A, B from the QR decomposition of W, the residual stays in W.</summary>
    Olora,
}

/// <summary>
/// PEFT's <c>LoraConfig</c>: every key <c>adapter_config.json</c> carries for a LoRA adapter, with PEFT's
/// defaults, so a config written here loads in Python PEFT and a PEFT config binds here. Options PeftHost
/// cannot honour (Megatron, LoftQ, EVA, CorDA, QALoRA, layer replication, target_parameters, aLoRA, Arrow,
/// lora_bias, trainable tokens) are refused by <see cref="Validate"/> when set to a non-default value.
/// </summary>
/// <remarks>
/// <c>runtime_config</c> is deliberately not a key: PEFT's <c>LoraConfig.to_dict</c> drops it, and a saved
/// <c>runtime_config</c> dict would break Python PEFT's loader (it expects a <c>LoraRuntimeConfig</c> object).
/// A file that contains it gets the binder's "unknown key ignored" warning.
/// </remarks>
public sealed partial class LoraConfig : PeftConfig, ITargetModulesConfig
{
    /// <summary>The <c>target_modules</c> shorthand for every linear layer except the output layer.</summary>
    public const string AllLinear = "all-linear";

    /// <summary>Values of <c>bias</c>.</summary>
    public static readonly IReadOnlyList<string> BiasModes = ["none", "all", "lora_only"];

    /// <summary>The LoRA rank (<c>r</c>).</summary>
    [ConfigKey("r")]
    public int R { get; set; } = 8;

    /// <summary>A list of module names (exact or <c>.name</c> suffix), a regex string (full match), or <c>"all-linear"</c>.</summary>
    [ConfigKey("target_modules")]
    public JsonNode? TargetModules { get; set; }

    /// <summary>Modules never adapted: a list (exact or suffix) or a regex string (full match).</summary>
    [ConfigKey("exclude_modules")]
    public JsonNode? ExcludeModules { get; set; }

    /// <summary>The LoRA alpha; scaling is alpha/r (alpha/√r with <see cref="UseRslora"/>).</summary>
    [ConfigKey("lora_alpha")]
    public double LoraAlpha { get; set; } = 8;

    /// <summary>Dropout applied to the input of the LoRA branch, in [0, 1).</summary>
    [ConfigKey("lora_dropout")]
    public double LoraDropout { get; set; }

    /// <summary>True when the adapted layer stores its weight as (in, out); PEFT resets it to false for Linear layers, as this plugin does.</summary>
    [ConfigKey("fan_in_fan_out")]
    public bool FanInFanOut { get; set; }

    /// <summary>Which biases train: <c>none</c>, <c>all</c> (every bias in the model) or <c>lora_only</c> (biases of adapted layers).</summary>
    [ConfigKey("bias")]
    public string Bias { get; set; } = "none";

    /// <summary>Rank-stabilised LoRA: scaling alpha/√r.</summary>
    [ConfigKey("use_rslora")]
    public bool UseRslora { get; set; }

    /// <summary>Modules besides the LoRA layers that get a trainable copy saved with the adapter (e.g. <c>lm_head</c>).</summary>
    [ConfigKey("modules_to_save")]
    public List<string>? ModulesToSave { get; set; }

    /// <summary><c>true</c>, <c>false</c>, <c>"gaussian"</c>, <c>"pissa"</c>, <c>"pissa_niter_N"</c> or <c>"olora"</c>.</summary>
    [ConfigKey("init_lora_weights")]
    public JsonNode? InitLoraWeights { get; set; } = JsonValue.Create(true);

    /// <summary>Layer indices to adapt: an integer or a list of integers (list-valued <c>target_modules</c> only).</summary>
    [ConfigKey("layers_to_transform")]
    public JsonNode? LayersToTransform { get; set; }

    /// <summary>The name (or names) of the module list holding the layers, e.g. <c>layers</c>.</summary>
    [ConfigKey("layers_pattern")]
    public JsonNode? LayersPattern { get; set; }

    /// <summary>Per-module ranks: keys are regexes matched against the end of the module path.</summary>
    [ConfigKey("rank_pattern")]
    public Dictionary<string, int> RankPattern { get; set; } = [];

    /// <summary>Per-module alphas: keys are regexes matched against the end of the module path.</summary>
    [ConfigKey("alpha_pattern")]
    public Dictionary<string, double> AlphaPattern { get; set; } = [];

    /// <summary>Megatron's TransformerConfig (not supported: must be null).</summary>
    [ConfigKey("megatron_config")]
    public JsonNode? MegatronConfig { get; set; }

    /// <summary>Megatron's core module name (kept for PEFT compatibility).</summary>
    [ConfigKey("megatron_core")]
    public string? MegatronCore { get; set; } = "megatron.core";

    /// <summary>Selectively trained token indices (not supported: must be null).</summary>
    [ConfigKey("trainable_token_indices")]
    public JsonNode? TrainableTokenIndices { get; set; }

    /// <summary>LoftQ settings; ignored unless <c>init_lora_weights</c> is "loftq", which is not supported.</summary>
    [ConfigKey("loftq_config")]
    public JsonNode? LoftqConfig { get; set; } = new JsonObject();

    /// <summary>EVA settings; ignored (EVA initialisation is not supported).</summary>
    [ConfigKey("eva_config")]
    public JsonNode? EvaConfig { get; set; }

    /// <summary>CorDA settings; ignored (CorDA initialisation is not supported).</summary>
    [ConfigKey("corda_config")]
    public JsonNode? CordaConfig { get; set; }

    /// <summary>Weight-decomposed LoRA: a trainable magnitude per output row.</summary>
    [ConfigKey("use_dora")]
    public bool UseDora { get; set; }

    /// <summary>Quantization-aware LoRA (GPTQ only in PEFT; not supported: must be false).</summary>
    [ConfigKey("use_qalora")]
    public bool UseQalora { get; set; }

    /// <summary>QALoRA's pooling group size (kept for PEFT compatibility).</summary>
    [ConfigKey("qalora_group_size")]
    public int QaloraGroupSize { get; set; } = 16;

    /// <summary>Layer stacking ranges (not supported: must be null).</summary>
    [ConfigKey("layer_replication")]
    public JsonNode? LayerReplication { get; set; }

    /// <summary>A bias on lora_B (not supported: must be false).</summary>
    [ConfigKey("lora_bias")]
    public bool LoraBias { get; set; }

    /// <summary>Parameters (rather than modules) to adapt (not supported: must be null or empty).</summary>
    [ConfigKey("target_parameters")]
    public List<string>? TargetParameters { get; set; }

    /// <summary>Activated LoRA invocation tokens (not supported: must be null).</summary>
    [ConfigKey("alora_invocation_tokens")]
    public List<int>? AloraInvocationTokens { get; set; }

    /// <summary>Arrow routing settings (not supported: must be null).</summary>
    [ConfigKey("arrow_config")]
    public JsonNode? ArrowConfig { get; set; }

    /// <summary>
    /// PEFT's switch to keep a tied lm_head on the trained copy of embed_tokens. Refused when it would
    /// matter (a tied model that saves embed_tokens): that copy trains the input side only here.
    /// </summary>
    [ConfigKey("ensure_weight_tying")]
    public bool EnsureWeightTying { get; set; }

    /// <summary>True when <see cref="TargetModules"/> is the <c>"all-linear"</c> shorthand.</summary>
    public bool IsAllLinear => TargetModules is JsonValue v && v.GetValueKind() == JsonValueKind.String
        && string.Equals(v.GetValue<string>(), AllLinear, StringComparison.OrdinalIgnoreCase);

    /// <summary>The target regex when <see cref="TargetModules"/> is a string (other than all-linear); otherwise null.</summary>
    public string? TargetModuleRegex => !IsAllLinear && TargetModules is JsonValue v && v.GetValueKind() == JsonValueKind.String
        ? v.GetValue<string>() : null;

    /// <summary>The target names when <see cref="TargetModules"/> is a list; otherwise null.</summary>
    public IReadOnlyList<string>? TargetModuleNames => StringList(TargetModules, "target_modules");

    /// <summary>The exclusion regex when <see cref="ExcludeModules"/> is a string; otherwise null.</summary>
    public string? ExcludeModuleRegex => ExcludeModules is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    /// <summary>The excluded names when <see cref="ExcludeModules"/> is a list; otherwise null.</summary>
    public IReadOnlyList<string>? ExcludeModuleNames => StringList(ExcludeModules, "exclude_modules");

    /// <summary>The layer indices of <see cref="LayersToTransform"/> (an integer is a list of one); null or empty when unused.</summary>
    public IReadOnlyList<int>? LayerIndices => TargetModulesJson.LayerIndices(LayersToTransform);

    /// <summary>The names of <see cref="LayersPattern"/> (a string is a list of one); null or empty when any module list goes.</summary>
    public IReadOnlyList<string>? LayerPatterns => LayersPattern switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>().Length == 0 ? [] : [v.GetValue<string>()],
        var n => StringList(n, "layers_pattern"),
    };

    /// <summary>The initialisation <see cref="InitLoraWeights"/> asks for.</summary>
    public LoraInitKind InitKind
    {
        get
        {
            var node = InitLoraWeights;
            if (node is JsonValue v)
            {
                switch (v.GetValueKind())
                {
                    case JsonValueKind.True: return LoraInitKind.Default;
                    case JsonValueKind.False: return LoraInitKind.Random;
                    case JsonValueKind.String:
                        string s = v.GetValue<string>();
                        if (s.Equals("gaussian", StringComparison.OrdinalIgnoreCase)) return LoraInitKind.Gaussian;
                        if (s.Equals("olora", StringComparison.OrdinalIgnoreCase)) return LoraInitKind.Olora;
                        if (s == "pissa" || PissaNiter().IsMatch(s)) return LoraInitKind.Pissa;
                        string known = "true, false, \"gaussian\", \"pissa\", \"pissa_niter_N\", \"olora\"";
                        throw new ConfigException(
                            s is "loftq" or "eva" or "corda" or "orthogonal" or "mica" or "lora_ga"
                                ? $"init_lora_weights \"{s}\" is not supported by PeftHost (supported: {known})"
                                : $"init_lora_weights \"{s}\" is not a known initialisation (supported: {known})",
                            "init_lora_weights");
                }
            }
            throw new ConfigException($"init_lora_weights must be true, false or a method name, got {node?.ToJsonString() ?? "null"}", "init_lora_weights");
        }
    }

    /// <summary>LoRA scaling for a layer of rank <paramref name="r"/> and alpha <paramref name="alpha"/>: alpha/r, or alpha/√r with rsLoRA.</summary>
    public double ScalingFor(int r, double alpha) => UseRslora ? alpha / Math.Sqrt(r) : alpha / r;

    /// <summary>The rank of the module at <paramref name="path"/>: the first <see cref="RankPattern"/> key that matches, else <see cref="R"/>.</summary>
    public int RankFor(string path) => PatternValue(RankPattern, path, R, "rank_pattern");

    /// <summary>The alpha of the module at <paramref name="path"/>: the first <see cref="AlphaPattern"/> key that matches, else <see cref="LoraAlpha"/>.</summary>
    public double AlphaFor(string path) => PatternValue(AlphaPattern, path, LoraAlpha, "alpha_pattern");

    /// <summary>
    /// PEFT's <c>get_pattern_key</c>: keys are tried in insertion order; key <c>k</c> matches a module path
    /// when the regex <c>(.*\.)?(k)$</c> matches the path from its start.
    /// </summary>
    internal static T PatternValue<T>(Dictionary<string, T> patterns, string path, T fallback, string option)
    {
        foreach (var (key, value) in patterns)
            if (KeyPattern(key, option).IsMatch(path))
                return value;
        return fallback;
    }

    /// <summary>A deep copy (through the JSON form, as PEFT's <c>dataclasses.replace</c> copies a config).</summary>
    public LoraConfig Clone()
    {
        var copy = ConfigBinder.Bind<LoraConfig>(ConfigSource.FromAdapterConfig(ToJson(), "LoraConfig.Clone"), PeftType);
        return copy;
    }

    /// <inheritdoc />
    public override void Validate()
    {
        if (R <= 0) throw new ConfigException($"r must be a positive integer, got {R}", "r");
        if (double.IsNaN(LoraDropout) || LoraDropout < 0 || LoraDropout >= 1)
            throw new ConfigException($"lora_dropout must be in [0, 1), got {LoraDropout.ToString(CultureInfo.InvariantCulture)}", "lora_dropout");
        if (double.IsNaN(LoraAlpha) || double.IsInfinity(LoraAlpha))
            throw new ConfigException("lora_alpha must be a finite number", "lora_alpha");
        // The scaling multiplies float32 (or narrower) tensors: beyond float32's range every delta and merge is infinite.
        foreach (var (key, alpha) in AlphaPattern.Select(kv => ($"alpha_pattern['{kv.Key}']", kv.Value)).Prepend(("lora_alpha", LoraAlpha)))
            if (!(Math.Abs(ScalingFor(R, alpha)) <= float.MaxValue))
                throw new ConfigException($"{key} = {alpha.ToString(CultureInfo.InvariantCulture)} gives a scaling of {ScalingFor(R, alpha).ToString("G3", CultureInfo.InvariantCulture)} at r = {R}, beyond the float32 range of the weights it multiplies", key.StartsWith("alpha", StringComparison.Ordinal) ? "alpha_pattern" : "lora_alpha");
        if (!BiasModes.Contains(Bias))
            throw new ConfigException($"bias must be one of {string.Join(", ", BiasModes.Select(b => $"\"{b}\""))}, got \"{Bias}\"", "bias");

        ValidateNamesOrRegex(TargetModules, "target_modules");
        ValidateNamesOrRegex(ExcludeModules, "exclude_modules");
        _ = InitKind;

        var indices = LayerIndices;
        var patterns = LayerPatterns;
        bool targetIsString = TargetModules is JsonValue tv && tv.GetValueKind() == JsonValueKind.String;
        if (targetIsString && LayersToTransform is not null)
            throw new ConfigException("layers_to_transform cannot be used when target_modules is a string", "layers_to_transform");
        if (targetIsString && LayersPattern is not null)
            throw new ConfigException("layers_pattern cannot be used when target_modules is a string", "layers_pattern");
        if (patterns is { Count: > 0 } && indices is not { Count: > 0 })
            throw new ConfigException("layers_pattern is given, so layers_to_transform must be given too", "layers_pattern");

        foreach (var (key, rank) in RankPattern)
        {
            CheckRegex(key, "rank_pattern");
            if (rank <= 0) throw new ConfigException($"rank_pattern['{key}'] must be a positive integer, got {rank}", "rank_pattern");
        }
        foreach (var key in AlphaPattern.Keys) CheckRegex(key, "alpha_pattern");
        if (TargetModuleRegex is { } regex) CheckRegex(regex, "target_modules");
        if (ExcludeModuleRegex is { } exclude) CheckRegex(exclude, "exclude_modules");

        Unsupported(MegatronConfig is not null, "megatron_config", "Megatron parallel layers are");
        Unsupported(TrainableTokenIndices is not null, "trainable_token_indices", "trainable tokens are");
        Unsupported(UseQalora, "use_qalora", "QALoRA is");
        Unsupported(LayerReplication is not null, "layer_replication", "layer replication is");
        Unsupported(LoraBias, "lora_bias", "a bias on lora_B is");
        Unsupported(TargetParameters is { Count: > 0 }, "target_parameters", "targeting parameters is");
        Unsupported(AloraInvocationTokens is not null, "alora_invocation_tokens", "activated LoRA (aLoRA) is");
        Unsupported(ArrowConfig is not null, "arrow_config", "Arrow routing is");
        if (QaloraGroupSize <= 0) throw new ConfigException($"qalora_group_size must be positive, got {QaloraGroupSize}", "qalora_group_size");
    }

    private static void Unsupported(bool set, string key, string what)
    {
        if (set) throw new ConfigException($"{key}: {what} not supported by PeftHost's LoRA", key);
    }

    private static void ValidateNamesOrRegex(JsonNode? node, string key)
    {
        switch (node)
        {
            case null: return;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String: return;
            case JsonArray: _ = StringList(node, key); return;
            default: throw new ConfigException($"{key} must be a list of module names or a regex string, got {node.ToJsonString()}", key);
        }
    }

    private static IReadOnlyList<string>? StringList(JsonNode? node, string key) =>
        node is JsonArray ? TargetModulesJson.Strings(node, key) : null;


    private static void CheckRegex(string pattern, string key) => _ = ModulePattern.Create(pattern, pattern, key);

    /// <summary>PEFT's <c>get_pattern_key</c> match for one key of <paramref name="option"/>.</summary>
    private static ModulePattern KeyPattern(string key, string option) => ModulePattern.Create($"^(?:.*\\.)?(?:{key})$", key, option);

    [GeneratedRegex(@"^pissa_niter_\d+$")]
    private static partial Regex PissaNiter();
}
