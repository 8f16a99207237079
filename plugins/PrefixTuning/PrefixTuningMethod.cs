using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.PrefixTuning;

/// <summary>
/// The prefix-tuning method (<c>prefix_tuning</c>, peft_type <c>PREFIX_TUNING</c>): learned key/value prefixes for
/// every attention layer, supplied through the model's attention-prefix hook, as PEFT's prefix tuning does.
/// </summary>
public sealed class PrefixTuningMethod : PromptLearningMethod<PrefixTuningConfig>
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "prefix_tuning";

    /// <summary>PEFT's peft_type.</summary>
    public const string PrefixTuningPeftType = "PREFIX_TUNING";

    /// <inheritdoc />
    public override string Name => MethodName;

    /// <inheritdoc />
    public override string PeftType => PrefixTuningPeftType;

    /// <inheritdoc />
    public override string Description => "Prefix tuning: learned per-layer key/value prefixes (optional MLP projection), GQA-aware";

    /// <inheritdoc />
    /// <remarks>
    /// The base fills num_layers, token_dim and num_attention_heads with the key/value heads (token_dim = kv heads ×
    /// head dim, PEFT's grouped-query rule) and num_transformer_submodules; the config fills encoder_hidden_size.
    /// </remarks>
    protected override bool KeyValueTokens => true;

    /// <inheritdoc />
    protected override IAdapter CreateAdapter(IPeftModelSurface model, string adapterName, PrefixTuningConfig config)
    {
        var encoder = new PrefixEncoder(config, model.Device, trainable: !config.InferenceMode);
        return new PrefixTuningAdapter(model, adapterName, config, encoder);
    }
}
