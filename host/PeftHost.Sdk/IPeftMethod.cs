namespace PeftHost.Sdk;

/// <summary>
/// A parameter-efficient fine-tuning method (LoRA, IA³, prefix tuning, …) brought by a plugin.
/// The host knows no method by name: it discovers implementations of this interface in plugin
/// assemblies and asks them to bind configs, inject adapters and merge them.
/// </summary>
public interface IPeftMethod
{
    /// <summary>The name recipes and the CLI use, e.g. <c>lora</c>, <c>prefix_tuning</c>.</summary>
    string Name { get; }

    /// <summary>The <c>peft_type</c> written in <c>adapter_config.json</c>, e.g. <c>LORA</c>.</summary>
    string PeftType { get; }

    /// <summary>A one-line description shown by <c>peft plugins</c>.</summary>
    string Description { get; }

    /// <summary>
    /// Binds this method's typed config from a JSON object: the contents of an
    /// <c>adapter_config.json</c> (PEFT's snake_case keys) or a recipe's options (camelCase).
    /// </summary>
    PeftConfig BindConfig(ConfigSource source);

    /// <summary>
    /// Adds the adapter <paramref name="adapterName"/> to <paramref name="model"/>: wraps or
    /// replaces modules, registers hooks. Weights are initialised as the config says.
    /// </summary>
    IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config);
}
