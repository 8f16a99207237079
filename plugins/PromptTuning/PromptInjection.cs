using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>What injecting prompt tuning and P-tuning share: resolving the config against the model, the word embeddings.</summary>
internal static class PromptInjection
{
    /// <summary>Validates <paramref name="config"/>, fills its model-derived keys and checks token_dim is the hidden size.</summary>
    public static void Resolve(IPeftModelSurface model, PromptLearningConfig config)
    {
        config.Validate();
        config.Resolve(model.Dimensions, keyValueHeads: false);
        config.Validate();
        if (config.TokenDim != model.Dimensions.HiddenSize)
            throw new ConfigException($"token_dim is {config.TokenDim} but the model's embeddings are {model.Dimensions.HiddenSize} wide", "token_dim");
        if (config.NumLayers != model.Dimensions.NumLayers)
            throw new ConfigException($"num_layers is {config.NumLayers} but the model has {model.Dimensions.NumLayers} layers", "num_layers");
    }

    /// <summary>
    /// The word embedding table [vocab, hidden], found as PEFT finds it: the first model parameter whose first
    /// dimension is the vocabulary size.
    /// </summary>
    public static Tensor WordEmbeddings(IPeftModelSurface model)
    {
        var d = model.Dimensions;
        foreach (var (_, p) in model.Root.named_parameters())
            if (p.dim() == 2 && p.shape[0] == d.VocabSize && p.shape[1] == d.HiddenSize) return p.detach();
        throw new InvalidOperationException($"no [{d.VocabSize}, {d.HiddenSize}] word embedding table found in the model");
    }
}
