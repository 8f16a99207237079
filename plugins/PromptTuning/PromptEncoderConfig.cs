using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>PEFT's <c>PromptEncoderConfig</c> (P-tuning).</summary>
public sealed class PromptEncoderConfig : PromptLearningConfig
{
    /// <summary>Embedding → Linear → ReLU → Linear → ReLU → Linear.</summary>
    public const string Mlp = "MLP";

    /// <summary>Embedding → bidirectional LSTM → Linear → ReLU → Linear.</summary>
    public const string Lstm = "LSTM";

    /// <summary>PEFT's default <c>encoder_num_layers</c> (the MLP always has exactly this many hidden layers).</summary>
    public const int DefaultEncoderNumLayers = 2;

    /// <summary>MLP (recommended) or LSTM.</summary>
    [ConfigKey("encoder_reparameterization_type")]
    public string EncoderReparameterizationType { get; set; } = Mlp;

    /// <summary>The hidden size of the prompt encoder (defaults to token_dim).</summary>
    [ConfigKey("encoder_hidden_size")]
    public int? EncoderHiddenSize { get; set; }

    /// <summary>LSTM layers (the MLP ignores it, with a warning when not 2).</summary>
    [ConfigKey("encoder_num_layers")]
    public int EncoderNumLayers { get; set; } = DefaultEncoderNumLayers;

    /// <summary>Dropout between LSTM layers.</summary>
    [ConfigKey("encoder_dropout")]
    public double EncoderDropout { get; set; }

    /// <inheritdoc />
    public override void Resolve(ModelDimensions model, bool keyValueHeads)
    {
        base.Resolve(model, keyValueHeads);
        EncoderHiddenSize ??= TokenDim;
    }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        string type = EncoderReparameterizationType.ToUpperInvariant();
        if (type is not (Mlp or Lstm))
            throw new ConfigException($"encoder_reparameterization_type must be MLP (recommended) or LSTM, got \"{EncoderReparameterizationType}\"",
                "encoder_reparameterization_type");
        EncoderReparameterizationType = type;
        Positive(EncoderHiddenSize, "encoder_hidden_size");
        if (EncoderNumLayers <= 0) throw new ConfigException($"encoder_num_layers must be a positive integer, got {EncoderNumLayers}", "encoder_num_layers");
        if (double.IsNaN(EncoderDropout) || EncoderDropout < 0 || EncoderDropout >= 1)
            throw new ConfigException($"encoder_dropout must be in [0, 1), got {EncoderDropout}", "encoder_dropout");
    }
}
