namespace PeftHost.Sdk.Tuners;

/// <summary>
/// The shared injection of the prompt-learning methods (prompt tuning, P-tuning, prefix tuning; PEFT's
/// <c>PromptLearningConfig</c> family): the config is checked, completed from the model
/// (<see cref="PromptLearningConfig.Resolve"/>) and checked against it; the method then makes its encoder and
/// adapter (<see cref="CreateAdapter"/>), usually a <see cref="PromptEncoderAdapter{TEncoder}"/> holding a hook.
/// </summary>
/// <typeparam name="TConfig">The method's config.</typeparam>
public abstract class PromptLearningMethod<TConfig> : IPeftMethod where TConfig : PromptLearningConfig, new()
{
    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public abstract string PeftType { get; }

    /// <inheritdoc />
    public abstract string Description { get; }

    /// <summary>
    /// True when the virtual tokens are attention keys and values (prefix tuning: token_dim is the key/value heads'
    /// width), false when they are input embeddings (token_dim is the hidden size).
    /// </summary>
    protected abstract bool KeyValueTokens { get; }

    /// <inheritdoc />
    public virtual PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<TConfig>(source, PeftType);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The config is not this method's.</exception>
    /// <exception cref="ConfigException">The config is invalid or does not fit the model.</exception>
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        if (config is not TConfig typed)
            throw new ArgumentException($"the {Name} method cannot use a {config.PeftType} config", nameof(config));
        typed.Validate();
        var d = model.Dimensions;
        typed.Resolve(d, KeyValueTokens);
        typed.Validate();
        if (typed.NumLayers != d.NumLayers)
            throw new ConfigException($"num_layers is {typed.NumLayers} but the model has {d.NumLayers} layers", "num_layers");
        if (!KeyValueTokens && typed.TokenDim != d.HiddenSize)
            throw new ConfigException($"token_dim is {typed.TokenDim} but the model's embeddings are {d.HiddenSize} wide", "token_dim");
        if (KeyValueTokens && typed.NumAttentionHeads != d.NumKeyValueHeads)
            throw new ConfigException($"num_attention_heads resolves to {typed.NumAttentionHeads} but the model has {d.NumKeyValueHeads} key/value heads", "num_attention_heads");
        if (KeyValueTokens && typed.TokenDim != d.NumKeyValueHeads * d.HeadDim)
            throw new ConfigException(
                $"token_dim resolves to {typed.TokenDim} but the model's keys are {d.NumKeyValueHeads} heads × {d.HeadDim} = {d.NumKeyValueHeads * d.HeadDim} wide", "token_dim");
        return CreateAdapter(model, adapterName, typed);
    }

    /// <summary>Makes the encoder on <see cref="IPeftModelSurface.Device"/> and the adapter holding it, from the resolved <paramref name="config"/>.</summary>
    protected abstract IAdapter CreateAdapter(IPeftModelSurface model, string adapterName, TConfig config);
}
