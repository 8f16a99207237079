namespace PeftHost.Sdk.Tuners;

/// <summary>
/// PEFT's default <c>target_modules</c> per model family (peft/utils/constants.py, the
/// <c>TRANSFORMERS_MODELS_TO_*_TARGET_MODULES_MAPPING</c> tables), keyed by the config's <c>model_type</c>, for the
/// families PeftHost loads. A family a table does not list has no default there: PEFT then asks for
/// <c>target_modules</c> (Phi-3, whose projections are fused, has no entry in any of them).
/// </summary>
public static class PeftTargetDefaults
{
    private static readonly string[] QueryValue = ["q_proj", "v_proj"];

    /// <summary>LoRA's defaults (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> Lora = new Dictionary<string, IReadOnlyList<string>>
    {
        ["llama"] = QueryValue, ["mistral"] = QueryValue, ["qwen2"] = QueryValue, ["qwen3"] = QueryValue,
        ["gemma2"] = QueryValue, ["gemma3_text"] = QueryValue,
    };

    /// <summary>AdaLoRA's defaults (TRANSFORMERS_MODELS_TO_ADALORA_TARGET_MODULES_MAPPING, which has no mistral entry).</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> AdaLora = new Dictionary<string, IReadOnlyList<string>>
    {
        ["llama"] = QueryValue, ["qwen2"] = QueryValue, ["qwen3"] = QueryValue, ["gemma2"] = QueryValue, ["gemma3_text"] = QueryValue,
    };

    /// <summary>IA³'s defaults (TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING).</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> IA3 = new Dictionary<string, IReadOnlyList<string>>
    {
        ["llama"] = ["k_proj", "v_proj", "down_proj"], ["mistral"] = ["k_proj", "v_proj", "down_proj"],
        ["qwen2"] = ["q_proj", "v_proj", "down_proj"], ["qwen3"] = ["q_proj", "v_proj", "down_proj"],
        ["gemma2"] = ["q_proj", "v_proj", "down_proj"], ["gemma3_text"] = ["q_proj", "v_proj", "down_proj"],
    };

    /// <summary>IA³'s default feed-forward modules (TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING).</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> IA3Feedforward = IA3.Keys.ToDictionary(k => k, _ => (IReadOnlyList<string>)["down_proj"]);

    /// <summary>
    /// <paramref name="table"/>'s entry for <paramref name="modelType"/>; for a family without one, a
    /// <see cref="ConfigException"/> on <paramref name="key"/> saying so, as PEFT refuses it.
    /// </summary>
    public static IReadOnlyList<string> For(IReadOnlyDictionary<string, IReadOnlyList<string>> table, string modelType, string key) =>
        table.TryGetValue(modelType, out var names) ? names
            : throw new ConfigException($"{key} must be given for model_type '{modelType}' (PEFT has no default for it)", key);
}
