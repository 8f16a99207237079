using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.AdaLora;

/// <summary>
/// PEFT's <c>AdaLoraConfig</c> (a <c>LoraConfig</c> with AdaLoRA's schedule): every key an AdaLoRA
/// <c>adapter_config.json</c> carries, with PEFT's defaults. LoRA options AdaLoRA or PeftHost cannot
/// honour (DoRA, LoftQ, bias training, modules_to_save, Megatron, …) are refused when set.
/// </summary>
/// <remarks>
/// PEFT spells the allocation interval <c>deltaT</c> (camelCase) in the file; <see cref="AdaLoraMethod.BindConfig"/>
/// reads it under that name (and as <c>delta_t</c>), and it is written back as <c>deltaT</c>.
/// </remarks>
public sealed class AdaLoraConfig : PeftConfig, ITargetModulesConfig
{
    /// <summary>The key PEFT writes for <see cref="DeltaT"/>.</summary>
    public const string DeltaTKey = "deltaT";

    /// <summary>The target average rank per adapted matrix once the budget has shrunk.</summary>
    [ConfigKey("target_r")]
    public int TargetR { get; set; } = 8;

    /// <summary>The rank every adapted matrix starts with.</summary>
    [ConfigKey("init_r")]
    public int InitR { get; set; } = 12;

    /// <summary>Warm-up steps during which the full budget is kept.</summary>
    [ConfigKey("tinit")]
    public int Tinit { get; set; }

    /// <summary>Final steps during which the final rank pattern is frozen.</summary>
    [ConfigKey("tfinal")]
    public int Tfinal { get; set; }

    /// <summary>Steps between two budget allocations (PEFT's <c>deltaT</c>).</summary>
    [ConfigKey(DeltaTKey)]
    public int DeltaT { get; set; } = 1;

    /// <summary>EMA coefficient of the sensitivity |p·∇p|.</summary>
    [ConfigKey("beta1")]
    public double Beta1 { get; set; } = 0.85;

    /// <summary>EMA coefficient of the uncertainty |I − Ī|.</summary>
    [ConfigKey("beta2")]
    public double Beta2 { get; set; } = 0.85;

    /// <summary>Weight of the orthogonal regulariser ‖AAᵀ−I‖_F + ‖BᵀB−I‖_F (mean over matrices) added to the loss.</summary>
    [ConfigKey("orth_reg_weight")]
    public double OrthRegWeight { get; set; } = 0.5;

    /// <summary>The number of optimizer steps of the run; the budget schedule needs it.</summary>
    [ConfigKey("total_step")]
    public int? TotalStep { get; set; }

    /// <summary>
    /// The allocated ranks: per adapted module, <c>{path}.lora_E</c> → one boolean per initial rank (true = kept).
    /// Written by the rank allocator; saved tensors are pruned to it, and a loaded adapter takes its shapes from it.
    /// </summary>
    [ConfigKey("rank_pattern")]
    public JsonNode? RankPattern { get; set; }

    /// <summary>LoRA's rank; not used by AdaLoRA (<see cref="InitR"/> is), kept for PEFT compatibility.</summary>
    [ConfigKey("r")]
    public int R { get; set; } = 8;

    /// <summary>A list of module names (exact or <c>.name</c> suffix), a regex string (full match) or <c>"all-linear"</c>.</summary>
    [ConfigKey("target_modules")]
    public JsonNode? TargetModules { get; set; }

    /// <summary>Modules never adapted: a list (exact or suffix) or a regex string (full match).</summary>
    [ConfigKey("exclude_modules")]
    public JsonNode? ExcludeModules { get; set; }

    /// <summary>alpha; the branch is scaled by alpha/(ranknum + 1e-5) (by r/(ranknum + 1e-5) when alpha ≤ 0).</summary>
    [ConfigKey("lora_alpha")]
    public double LoraAlpha { get; set; } = 8;

    /// <summary>Dropout on the branch input, in [0, 1).</summary>
    [ConfigKey("lora_dropout")]
    public double LoraDropout { get; set; }

    /// <summary>True for layers storing (in, out) weights; PEFT resets it to false for Linear layers, as this plugin does.</summary>
    [ConfigKey("fan_in_fan_out")]
    public bool FanInFanOut { get; set; }

    /// <summary>Bias training: only <c>"none"</c> is supported.</summary>
    [ConfigKey("bias")]
    public string Bias { get; set; } = "none";

    /// <summary>rsLoRA scaling; AdaLoRA ignores it (its scaling is alpha/ranknum).</summary>
    [ConfigKey("use_rslora")]
    public bool UseRslora { get; set; }

    /// <summary>Extra trainable modules (not supported: must be null or empty).</summary>
    [ConfigKey("modules_to_save")]
    public List<string>? ModulesToSave { get; set; }

    /// <summary>true: E = 0, A and B ~ N(0, 0.02); false: all three ~ N(0, 1).</summary>
    [ConfigKey("init_lora_weights")]
    public JsonNode? InitLoraWeights { get; set; } = JsonValue.Create(true);

    /// <summary>Layer indices to adapt: an integer or a list of integers (list-valued <c>target_modules</c> only).</summary>
    [ConfigKey("layers_to_transform")]
    public JsonNode? LayersToTransform { get; set; }

    /// <summary>The name (or names) of the module list holding the layers, e.g. <c>layers</c>.</summary>
    [ConfigKey("layers_pattern")]
    public JsonNode? LayersPattern { get; set; }

    /// <summary>LoRA's per-module alphas; AdaLoRA ignores them.</summary>
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

    /// <summary>LoftQ settings (AdaLoRA refuses LoftQ, as PEFT does: must be empty).</summary>
    [ConfigKey("loftq_config")]
    public JsonNode? LoftqConfig { get; set; } = new JsonObject();

    /// <summary>EVA settings (ignored).</summary>
    [ConfigKey("eva_config")]
    public JsonNode? EvaConfig { get; set; }

    /// <summary>CorDA settings (ignored).</summary>
    [ConfigKey("corda_config")]
    public JsonNode? CordaConfig { get; set; }

    /// <summary>DoRA (AdaLoRA refuses it, as PEFT does: must be false).</summary>
    [ConfigKey("use_dora")]
    public bool UseDora { get; set; }

    /// <summary>QALoRA (not supported: must be false).</summary>
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

    /// <summary>Parameters to adapt (not supported: must be null or empty).</summary>
    [ConfigKey("target_parameters")]
    public List<string>? TargetParameters { get; set; }

    /// <summary>Activated LoRA invocation tokens (not supported: must be null).</summary>
    [ConfigKey("alora_invocation_tokens")]
    public List<int>? AloraInvocationTokens { get; set; }

    /// <summary>Arrow routing settings (not supported: must be null).</summary>
    [ConfigKey("arrow_config")]
    public JsonNode? ArrowConfig { get; set; }

    /// <summary>Tie adapters on tied layers (accepted, unused).</summary>
    [ConfigKey("ensure_weight_tying")]
    public bool EnsureWeightTying { get; set; }


    /// <summary>The scaling numerator: alpha when positive, else the initial rank (PEFT's <c>scaling</c>).</summary>
    public double Scaling => LoraAlpha > 0 ? LoraAlpha : InitR;

    /// <summary>The layer indices of <see cref="LayersToTransform"/> (an integer is a list of one); null when unused.</summary>
    public IReadOnlyList<int>? LayerIndices => TargetModulesJson.LayerIndices(LayersToTransform);

    /// <summary>The names of <see cref="LayersPattern"/>; null when any module list goes.</summary>
    public IReadOnlyList<string>? LayerPatterns => LayersPattern switch
    {
        null => null,
        _ when TargetModulesJson.IsString(LayersPattern, out string? s) => s!.Length == 0 ? [] : [s],
        var n => TargetModulesJson.Strings(n, "layers_pattern"),
    };

    /// <summary>True for PEFT's default initialisation (E = 0, A, B ~ N(0, 0.02)).</summary>
    public bool InitWeights => InitLoraWeights switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.True => true,
        JsonValue v when v.GetValueKind() == JsonValueKind.False => false,
        _ => throw new ConfigException($"init_lora_weights must be true or false for AdaLoRA, got {InitLoraWeights?.ToJsonString() ?? "null"}", "init_lora_weights"),
    };

    /// <summary>The rank pattern as module key → kept flags (null when none has been allocated).</summary>
    public Dictionary<string, bool[]>? ReadRankPattern()
    {
        if (RankPattern is null) return null;
        if (RankPattern is not JsonObject obj)
            throw new ConfigException($"rank_pattern must be an object of boolean lists, got {RankPattern.ToJsonString()}", "rank_pattern");
        var result = new Dictionary<string, bool[]>(StringComparer.Ordinal);
        foreach (var (key, value) in obj)
        {
            if (value is not JsonArray list || list.Any(b => b is not JsonValue bv || bv.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)))
                throw new ConfigException($"rank_pattern['{key}'] must be a list of booleans, got {value?.ToJsonString() ?? "null"}", "rank_pattern");
            result[NormalizePatternKey(key)] = list.Select(b => b!.GetValue<bool>()).ToArray();
        }
        return result;
    }

    /// <summary>
    /// A rank-pattern key without the adapter name: PEFT keeps <c>{path}.lora_E.{adapter}</c> while training and
    /// strips the adapter name when saving (<c>{path}.lora_E</c>).
    /// </summary>
    public static string NormalizePatternKey(string key)
    {
        int at = key.LastIndexOf(".lora_E", StringComparison.Ordinal);
        return at >= 0 ? key[..(at + ".lora_E".Length)] : key;
    }

    /// <summary>Stores <paramref name="pattern"/> as <see cref="RankPattern"/> (keys sorted).</summary>
    public void WriteRankPattern(IReadOnlyDictionary<string, bool[]> pattern)
    {
        var obj = new JsonObject();
        foreach (var key in pattern.Keys.Order(StringComparer.Ordinal))
            obj[key] = new JsonArray(pattern[key].Select(b => (JsonNode)JsonValue.Create(b)).ToArray());
        RankPattern = obj;
    }

    /// <inheritdoc />
    public override void Validate()
    {
        if (InitR <= 0) throw new ConfigException($"init_r must be a positive integer, got {InitR}", "init_r");
        if (TargetR <= 0) throw new ConfigException($"target_r must be a positive integer, got {TargetR}", "target_r");
        if (TargetR > InitR) throw new ConfigException($"target_r ({TargetR}) cannot exceed init_r ({InitR})", "target_r");
        if (DeltaT <= 0) throw new ConfigException($"deltaT must be a positive integer, got {DeltaT}", DeltaTKey);
        if (Tinit < 0) throw new ConfigException($"tinit must not be negative, got {Tinit}", "tinit");
        if (Tfinal < 0) throw new ConfigException($"tfinal must not be negative, got {Tfinal}", "tfinal");
        if (!(Beta1 > 0 && Beta1 < 1)) throw new ConfigException($"beta1 must be in (0, 1), got {Num(Beta1)}", "beta1");
        if (!(Beta2 > 0 && Beta2 < 1)) throw new ConfigException($"beta2 must be in (0, 1), got {Num(Beta2)}", "beta2");
        if (double.IsNaN(OrthRegWeight) || OrthRegWeight < 0)
            throw new ConfigException($"orth_reg_weight must be a non-negative number, got {Num(OrthRegWeight)}", "orth_reg_weight");
        if (!InferenceMode)
        {
            // PEFT ≥ 0.15 refuses these at construction: the budget schedule needs a budgeting phase.
            if (TotalStep is null or <= 0)
                throw new ConfigException("AdaLoRA does not work when total_step is not set; supply the run's number of optimizer steps (> 0)", "total_step");
            if (Tinit >= TotalStep - Tfinal)
                throw new ConfigException(
                    $"the schedule tinit={Tinit}, tfinal={Tfinal}, total_step={TotalStep} leaves no budgeting phase; decrease tfinal/tinit or increase total_step", "tinit");
        }
        if (double.IsNaN(LoraDropout) || LoraDropout < 0 || LoraDropout >= 1)
            throw new ConfigException($"lora_dropout must be in [0, 1), got {Num(LoraDropout)}", "lora_dropout");
        if (double.IsNaN(LoraAlpha) || double.IsInfinity(LoraAlpha)) throw new ConfigException("lora_alpha must be a finite number", "lora_alpha");
        if (Bias != "none") throw new ConfigException($"bias \"{Bias}\" is not supported by PeftHost's AdaLoRA (only \"none\")", "bias");
        TargetModulesJson.Validate(TargetModules, "target_modules");
        TargetModulesJson.Validate(ExcludeModules, "exclude_modules");
        _ = InitWeights;
        _ = ReadRankPattern();
        bool targetIsString = TargetModulesJson.IsString(TargetModules, out _);
        if (targetIsString && LayersToTransform is not null)
            throw new ConfigException("layers_to_transform cannot be used when target_modules is a string", "layers_to_transform");
        if (LayerPatterns is { Count: > 0 } && LayerIndices is not { Count: > 0 })
            throw new ConfigException("layers_pattern is given, so layers_to_transform must be given too", "layers_pattern");
        Unsupported(UseDora, "use_dora", "AdaLoRA does not support DoRA");
        Unsupported(LoftqConfig is JsonObject { Count: > 0 }, "loftq_config", "AdaLoRA does not support LoftQ");
        Unsupported(ModulesToSave is { Count: > 0 }, "modules_to_save", "modules_to_save is not supported by PeftHost's AdaLoRA");
        Unsupported(MegatronConfig is not null, "megatron_config", "Megatron parallel layers are not supported");
        Unsupported(TrainableTokenIndices is not null, "trainable_token_indices", "trainable tokens are not supported");
        Unsupported(UseQalora, "use_qalora", "QALoRA is not supported");
        Unsupported(LayerReplication is not null, "layer_replication", "layer replication is not supported");
        Unsupported(LoraBias, "lora_bias", "a bias on lora_B is not supported");
        Unsupported(TargetParameters is { Count: > 0 }, "target_parameters", "targeting parameters is not supported");
        Unsupported(AloraInvocationTokens is not null, "alora_invocation_tokens", "activated LoRA (aLoRA) is not supported");
        Unsupported(ArrowConfig is not null, "arrow_config", "Arrow routing is not supported");
    }

    private static void Unsupported(bool set, string key, string message)
    {
        if (set) throw new ConfigException($"{key}: {message}", key);
    }

    private static string Num(double d) => d.ToString(CultureInfo.InvariantCulture);
}
