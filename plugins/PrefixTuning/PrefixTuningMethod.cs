using PeftHost.Sdk;

namespace PeftHost.Plugins.PrefixTuning;

/// <summary>
/// The prefix-tuning method (<c>prefix_tuning</c>, peft_type <c>PREFIX_TUNING</c>): learned key/value prefixes for
/// every attention layer, supplied through the model's attention-prefix hook, as PEFT's prefix tuning does.
/// </summary>
public sealed class PrefixTuningMethod : IPeftMethod
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "prefix_tuning";

    /// <summary>PEFT's peft_type.</summary>
    public const string PrefixTuningPeftType = "PREFIX_TUNING";

    /// <inheritdoc />
    public string Name => MethodName;

    /// <inheritdoc />
    public string PeftType => PrefixTuningPeftType;

    /// <inheritdoc />
    public string Description => "Prefix tuning: learned per-layer key/value prefixes (optional MLP projection), GQA-aware";

    /// <inheritdoc />
    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<PrefixTuningConfig>(source, PrefixTuningPeftType);

    /// <inheritdoc />
    /// <remarks>
    /// Fills num_layers, token_dim, num_attention_heads (key/value heads: token_dim = kv heads × head dim, PEFT's
    /// grouped-query rule), num_transformer_submodules and encoder_hidden_size from the model, and checks that a
    /// given config fits it.
    /// </remarks>
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        if (config is not PrefixTuningConfig prefix)
            throw new ArgumentException($"the prefix_tuning method needs a PrefixTuningConfig, got {config.GetType().Name}", nameof(config));
        prefix.Validate();
        var d = model.Dimensions;
        prefix.Resolve(d, keyValueHeads: true);
        prefix.Validate();
        if (prefix.NumLayers != d.NumLayers)
            throw new ConfigException($"num_layers is {prefix.NumLayers} but the model has {d.NumLayers} layers", "num_layers");
        if (prefix.NumAttentionHeads != d.NumKeyValueHeads)
            throw new ConfigException($"num_attention_heads resolves to {prefix.NumAttentionHeads} but the model has {d.NumKeyValueHeads} key/value heads", "num_attention_heads");
        if (prefix.TokenDim != d.NumKeyValueHeads * d.HeadDim)
            throw new ConfigException(
                $"token_dim resolves to {prefix.TokenDim} but the model's keys are {d.NumKeyValueHeads} heads × {d.HeadDim} = {d.NumKeyValueHeads * d.HeadDim} wide", "token_dim");
        var encoder = new PrefixEncoder(prefix, model.Device, trainable: !prefix.InferenceMode);
        return new PrefixTuningAdapter(model, adapterName, prefix, encoder);
    }
}
