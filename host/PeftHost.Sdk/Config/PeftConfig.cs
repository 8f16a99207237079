using System.Text.Json.Nodes;

namespace PeftHost.Sdk;

/// <summary>
/// The keys every PEFT adapter config carries. A method derives its own config from this and
/// marks each option with <see cref="ConfigKeyAttribute"/> using PEFT's snake_case name.
/// </summary>
public abstract class PeftConfig
{
    /// <summary>PEFT's <c>peft_type</c>: LORA, IA3, …; set by the method.</summary>
    [ConfigKey("peft_type")]
    public string PeftType { get; set; } = "";

    /// <summary>PEFT's <c>task_type</c>; PeftHost trains causal language models.</summary>
    [ConfigKey("task_type")]
    public string? TaskType { get; set; } = "CAUSAL_LM";

    /// <summary>The base model the adapter was trained on.</summary>
    [ConfigKey("base_model_name_or_path")]
    public string? BaseModelNameOrPath { get; set; }

    /// <summary>The base model's revision, when it came from a hub.</summary>
    [ConfigKey("revision")]
    public string? Revision { get; set; }

    /// <summary>True for an adapter loaded for inference only (its parameters do not train).</summary>
    [ConfigKey("inference_mode")]
    public bool InferenceMode { get; set; }

    /// <summary>PEFT's <c>auto_mapping</c> (custom model classes); kept as written.</summary>
    [ConfigKey("auto_mapping")]
    public System.Text.Json.Nodes.JsonNode? AutoMapping { get; set; }

    /// <summary>The PEFT version that wrote the config (<c>peft_version</c>), when recorded.</summary>
    [ConfigKey("peft_version", OmitWhenNull = true)]
    public string? PeftVersion { get; set; }

    /// <summary>Checks value ranges after binding; throws <see cref="ConfigException"/> naming the key.</summary>
    public virtual void Validate() { }

    /// <summary>The config as PEFT writes <c>adapter_config.json</c>: every key, sorted.</summary>
    public JsonObject ToJson() => ConfigBinder.ToJson(this);
}
