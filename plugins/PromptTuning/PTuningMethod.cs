using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>
/// The P-tuning method (<c>p_tuning</c>, peft_type <c>P_TUNING</c>): virtual token embeddings produced by an MLP or
/// LSTM prompt encoder, prepended to the input, as PEFT's <c>PromptEncoder</c> does. What is saved is the encoder's
/// output.
/// </summary>
public sealed class PTuningMethod : PromptLearningMethod<PromptEncoderConfig>
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "p_tuning";

    /// <summary>PEFT's peft_type.</summary>
    public const string PTuningPeftType = "P_TUNING";

    /// <inheritdoc />
    public override string Name => MethodName;

    /// <inheritdoc />
    public override string PeftType => PTuningPeftType;

    /// <inheritdoc />
    public override string Description => "P-tuning: virtual token embeddings from an MLP or LSTM prompt encoder";

    /// <inheritdoc />
    protected override bool KeyValueTokens => false;

    /// <inheritdoc />
    protected override IAdapter CreateAdapter(IPeftModelSurface model, string adapterName, PromptEncoderConfig config)
    {
        if (config.EncoderReparameterizationType == PromptEncoderConfig.Mlp
            && config.EncoderNumLayers != PromptEncoderConfig.DefaultEncoderNumLayers && !config.InferenceMode)
            model.Warn($"p_tuning: for MLP, encoder_num_layers ({config.EncoderNumLayers}) is ignored; exactly {PromptEncoderConfig.DefaultEncoderNumLayers} hidden layers are used");
        var encoder = new PromptEncoder(config, model.Device, trainable: !config.InferenceMode);
        return new PromptLearningAdapter(model, adapterName, config, encoder, MethodName);
    }
}
