using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.PrefixTuning;

/// <summary>PEFT's <c>PrefixTuningConfig</c>.</summary>
public sealed class PrefixTuningConfig : PromptLearningConfig
{
    /// <summary>The only value of <see cref="InitWeights"/> besides null.</summary>
    public const string ZeroInit = "zero";

    /// <summary>The hidden size of the projection MLP (defaults to token_dim).</summary>
    [ConfigKey("encoder_hidden_size")]
    public int? EncoderHiddenSize { get; set; }

    /// <summary>Reparametrise the prefix through Embedding → Linear → Tanh → Linear.</summary>
    [ConfigKey("prefix_projection")]
    public bool PrefixProjection { get; set; }

    /// <summary>null: random (N(0, 1) embedding, default Linear init); <c>"zero"</c>: the table (or the last Linear) starts at zero.</summary>
    [ConfigKey("init_weights")]
    public string? InitWeights { get; set; }

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
        Positive(EncoderHiddenSize, "encoder_hidden_size");
        if (InitWeights is not null && InitWeights != ZeroInit)
            throw new ConfigException($"init_weights must be null or \"{ZeroInit}\", got \"{InitWeights}\"", "init_weights");
    }
}
