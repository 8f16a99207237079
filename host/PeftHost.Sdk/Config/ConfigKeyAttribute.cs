namespace PeftHost.Sdk;

/// <summary>
/// Marks a config property with its key in PEFT's <c>adapter_config.json</c> (snake_case).
/// Recipes use the camelCase form of the same key (<c>lora_alpha</c> ↔ <c>loraAlpha</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ConfigKeyAttribute(string key) : Attribute
{
    /// <summary>The snake_case key.</summary>
    public string Key { get; } = key;

    /// <summary>Leave the key out of the written config while its value is null (keys older PEFT versions do not know).</summary>
    public bool OmitWhenNull { get; init; }
}
