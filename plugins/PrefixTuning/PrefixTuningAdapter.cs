using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using static TorchSharp.torch;

namespace PeftHost.Plugins.PrefixTuning;

/// <summary>
/// One prefix-tuning adapter: a <see cref="PrefixEncoder"/> (registered in the model at
/// <c>prompt_encoder.{adapter}</c>) whose output gives every attention layer num_virtual_tokens extra key/value
/// positions, with the model's key/value head count (grouped-query attention). Saved as PEFT saves it: one tensor
/// <c>prompt_embeddings</c> [num_virtual_tokens, num_layers·2·token_dim] — the encoder's output.
/// </summary>
/// <remarks>
/// Layout of a row of the flattened prefix, as PEFT's <c>get_prompt</c> reads it: (layer, key|value, head, dim),
/// so layer l's keys are block 2l and its values block 2l + 1.
/// </remarks>
public sealed class PrefixTuningAdapter : PromptEncoderAdapter<PrefixEncoder>, IAttentionPrefixProvider
{
    internal PrefixTuningAdapter(IPeftModelSurface surface, string name, PrefixTuningConfig config, PrefixEncoder encoder)
        : base(surface, name, config, encoder, "prefix-tuning")
    {
        PrefixConfig = config;
        HoldHook(surface.AddAttentionPrefix(this));
    }

    /// <inheritdoc />
    string IAttentionPrefixProvider.AdapterName => Name;

    /// <summary>The typed (resolved) config.</summary>
    public PrefixTuningConfig PrefixConfig { get; }

    /// <inheritdoc />
    public int PrefixLength => PrefixConfig.NumVirtualTokens!.Value;

    /// <inheritdoc />
    protected override long[] StateShape => [PrefixLength, Encoder.OutputWidth];

    /// <inheritdoc />
    protected override string StateShapeOrigin =>
        $"num_virtual_tokens {PrefixLength} × num_layers {PrefixConfig.NumLayers} · 2 · token_dim {PrefixConfig.TokenDim}";

    /// <inheritdoc />
    protected override Tensor EncoderOutput() => Encoder.Prefix();

    /// <inheritdoc />
    /// <remarks>
    /// The encoder becomes the plain table holding the loaded prefix (a projection MLP cannot be recovered from its
    /// output; PEFT refuses such a load, here the table keeps training instead, with a warning).
    /// </remarks>
    protected override void LoadEncoderOutput(Tensor output) => Encoder.LoadPrefix(output);

    /// <inheritdoc />
    protected override string? ReparameterizationWarning() => Encoder.IsProjected && Encoder.Embedding.Weight.requires_grad
        ? "the saved prefix is the projection's output; training continues on the prefix table itself"
        : null;

    /// <inheritdoc />
    public IAttentionPrefix Compute(long batchSize)
    {
        var c = PrefixConfig;
        int layers = c.NumLayers!.Value, heads = c.NumAttentionHeads!.Value, p = PrefixLength;
        int headDim = c.TokenDim!.Value / heads;
        using var scope = NewDisposeScope();
        // [P, L·2·H·D] → [P, L·2, H, D] → [L·2, H, P, D] → [L·2, B, H, P, D] (the batch is a broadcast view).
        var flat = Encoder.Prefix().to(Surface.WeightDtype);
        var kv = flat.view(p, layers * 2, heads, headDim).permute(1, 2, 0, 3)
            .unsqueeze(1).expand(layers * 2, batchSize, heads, p, headDim);
        return new Prefix(kv.DetachFromDisposeScope());
    }

    /// <summary>The per-layer key/value prefixes of one forward pass.</summary>
    private sealed class Prefix(Tensor keyValues) : IAttentionPrefix
    {
        public (Tensor Key, Tensor Value) ForLayer(int layerIndex) => (keyValues[2 * layerIndex], keyValues[2 * layerIndex + 1]);

        public void Dispose() => keyValues.Dispose();
    }
}
