using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.PrefixTuning;

/// <summary>
/// PEFT's <c>PrefixEncoder</c>: produces the flattened key/value prefix [num_virtual_tokens, num_layers·2·token_dim].
/// Without projection it is a table <c>embedding</c> of that shape; with <c>prefix_projection</c> (when training) it is
/// <c>embedding</c> [P, token_dim] → <c>transform</c> = Linear(token_dim, encoder_hidden_size) → Tanh →
/// Linear(encoder_hidden_size, num_layers·2·token_dim). An inference-mode encoder, or one a saved prefix was loaded
/// into, is the plain table.
/// </summary>
public sealed class PrefixEncoder : CanonicalModule<Tensor, Tensor>
{
    private EmbeddingTable _embedding;
    private nn.Module<Tensor, Tensor>? _transform;

    /// <summary>Builds the encoder for <paramref name="config"/> (resolved) on <paramref name="device"/>.</summary>
    public PrefixEncoder(PrefixTuningConfig config, Device device, bool trainable) : base("PrefixEncoder")
    {
        int p = config.NumVirtualTokens!.Value, tokenDim = config.TokenDim!.Value, layers = config.NumLayers!.Value;
        OutputWidth = (long)layers * 2 * tokenDim;
        bool zero = config.InitWeights == PrefixTuningConfig.ZeroInit;
        if (config.PrefixProjection && !config.InferenceMode)
        {
            _embedding = new EmbeddingTable(p, tokenDim, device, trainable: trainable);
            int hidden = config.EncoderHiddenSize!.Value;
            _transform = nn.Sequential(
                ("0", PromptLayers.Linear(tokenDim, hidden, device)),
                ("1", nn.Tanh()),
                ("2", PromptLayers.Linear(hidden, OutputWidth, device, zero)));
            foreach (var (_, param) in _transform.named_parameters()) param.requires_grad = trainable;
            register_module("embedding", _embedding);
            register_module("transform", _transform);
        }
        else
        {
            _embedding = new EmbeddingTable(p, OutputWidth, device, zero, trainable);
            register_module("embedding", _embedding);
        }
    }

    /// <summary>num_layers·2·token_dim.</summary>
    public long OutputWidth { get; }

    /// <summary>True while the prefix is computed through the projection MLP.</summary>
    public bool IsProjected => _transform is not null;

    /// <summary>The prefix table (or, with projection, the token embeddings before the MLP).</summary>
    public EmbeddingTable Embedding => _embedding;

    /// <summary>The flattened prefix [P, num_layers·2·token_dim] (float32, with gradient when training).</summary>
    public Tensor Prefix() => _transform is null ? _embedding.Weight : _transform.forward(_embedding.Weight);

    /// <inheritdoc />
    public override Tensor forward(Tensor ids) => _transform is null ? _embedding.forward(ids) : _transform.forward(_embedding.forward(ids));

    /// <summary>
    /// Makes the encoder the plain table holding <paramref name="prefix"/> [P, num_layers·2·token_dim] — what PEFT
    /// saves and what an inference-mode encoder is. The projection MLP, if any, is dropped.
    /// </summary>
    public void LoadPrefix(Tensor prefix)
    {
        bool trainable = _embedding.Weight.requires_grad;
        var device = _embedding.Weight.device;
        if (_transform is not null || _embedding.Weight.shape[1] != prefix.shape[1])
        {
            var table = new EmbeddingTable(prefix.shape[0], prefix.shape[1], device, zero: true, trainable: trainable);
            register_module("embedding", null!);
            if (_transform is not null) register_module("transform", null!);
            _embedding.Dispose();
            _transform?.Dispose();
            _transform = null;
            _embedding = table;
            register_module("embedding", _embedding);
        }
        using var _ = no_grad();
        _embedding.Weight.copy_(prefix);
    }
}
