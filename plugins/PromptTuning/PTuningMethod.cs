using PeftHost.Sdk;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>
/// The P-tuning method (<c>p_tuning</c>, peft_type <c>P_TUNING</c>): virtual token embeddings produced by an MLP or
/// LSTM prompt encoder, prepended to the input, as PEFT's <c>PromptEncoder</c> does. What is saved is the encoder's
/// output.
/// </summary>
public sealed class PTuningMethod : IPeftMethod
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "p_tuning";

    /// <summary>PEFT's peft_type.</summary>
    public const string PTuningPeftType = "P_TUNING";

    /// <inheritdoc />
    public string Name => MethodName;

    /// <inheritdoc />
    public string PeftType => PTuningPeftType;

    /// <inheritdoc />
    public string Description => "P-tuning: virtual token embeddings from an MLP or LSTM prompt encoder";

    /// <inheritdoc />
    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<PromptEncoderConfig>(source, PTuningPeftType);

    /// <inheritdoc />
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        if (config is not PromptEncoderConfig encoderConfig)
            throw new ArgumentException($"the p_tuning method needs a PromptEncoderConfig, got {config.GetType().Name}", nameof(config));
        PromptInjection.Resolve(model, encoderConfig);
        if (encoderConfig.EncoderReparameterizationType == PromptEncoderConfig.Mlp
            && encoderConfig.EncoderNumLayers != PromptEncoderConfig.DefaultEncoderNumLayers && !encoderConfig.InferenceMode)
            model.Warn($"p_tuning: for MLP, encoder_num_layers ({encoderConfig.EncoderNumLayers}) is ignored; exactly {PromptEncoderConfig.DefaultEncoderNumLayers} hidden layers are used");
        var encoder = new PromptEncoder(encoderConfig, model.Device, trainable: !encoderConfig.InferenceMode);
        return new PromptLearningAdapter(model, adapterName, encoderConfig, encoder, MethodName);
    }
}
