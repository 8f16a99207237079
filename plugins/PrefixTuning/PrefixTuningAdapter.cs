using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
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
public sealed class PrefixTuningAdapter : IAdapter, IAttentionPrefixProvider
{
    /// <summary>The single key PEFT saves for prompt-learning methods.</summary>
    public const string StateKey = "prompt_embeddings";

    private readonly IPeftModelSurface _surface;
    private readonly IDisposable _registration;
    private bool _removed;

    internal PrefixTuningAdapter(IPeftModelSurface surface, string name, PrefixTuningConfig config, PrefixEncoder encoder)
    {
        _surface = surface;
        Name = name;
        PrefixConfig = config;
        Encoder = encoder;
        PromptEncoderSlot.Register(surface.Root, name, encoder);
        _registration = surface.AddAttentionPrefix(this);
    }

    /// <inheritdoc cref="IAdapter.Name" />
    public string Name { get; }

    /// <inheritdoc />
    string IAttentionPrefixProvider.AdapterName => Name;

    /// <inheritdoc />
    public PeftConfig Config => PrefixConfig;

    /// <summary>The typed (resolved) config.</summary>
    public PrefixTuningConfig PrefixConfig { get; }

    /// <summary>The prefix encoder.</summary>
    public PrefixEncoder Encoder { get; }

    /// <inheritdoc />
    public int PrefixLength => PrefixConfig.NumVirtualTokens!.Value;

    /// <inheritdoc />
    public bool CanMerge => false;

    /// <inheritdoc />
    public bool IsMerged => false;

    /// <inheritdoc />
    /// <remarks>Keyed as PEFT names them, without the adapter name: <c>prompt_encoder.embedding.weight</c>, <c>prompt_encoder.transform.0.weight</c>, ….</remarks>
    public IEnumerable<(string Key, Parameter Parameter)> NamedParameters() =>
        Encoder.named_parameters().Select(p => ($"{PromptEncoderSlot.ContainerName}.{p.name}", p.parameter)).ToList();

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var prefix = Encoder.Prefix().detach().to(ScalarType.Float32).cpu().clone();
        return new Dictionary<string, Tensor> { [StateKey] = prefix.MoveToOuterDisposeScope() };
    }

    /// <inheritdoc />
    /// <remarks>
    /// The encoder becomes the plain table holding the loaded prefix (a projection MLP cannot be recovered from its
    /// output; PEFT refuses such a load, here the table keeps training instead, with a warning).
    /// </remarks>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        long[] expected = [PrefixLength, Encoder.OutputWidth];
        if (!state.TryGetValue(StateKey, out var value))
            throw new InvalidDataException($"cannot load prefix-tuning adapter '{Name}': missing tensor '{StateKey}' (expected shape {Shape(expected)})");
        if (!value.shape.SequenceEqual(expected))
            throw new InvalidDataException(
                $"cannot load prefix-tuning adapter '{Name}': tensor '{StateKey}' has shape {Shape(value.shape)} but the adapter expects {Shape(expected)} " +
                $"(num_virtual_tokens {PrefixLength} × num_layers {PrefixConfig.NumLayers} · 2 · token_dim {PrefixConfig.TokenDim})");
        foreach (var key in state.Keys.Where(k => k != StateKey))
            _surface.Warn($"prefix-tuning adapter '{Name}': unexpected tensor '{key}' ignored");
        if (Encoder.IsProjected && Encoder.Embedding.Weight.requires_grad)
            _surface.Warn($"prefix-tuning adapter '{Name}': the saved prefix is the projection's output; training continues on the prefix table itself");
        Encoder.LoadPrefix(value);
    }

    /// <inheritdoc />
    public void Merge() => throw new InvalidOperationException($"prefix-tuning adapter '{Name}' cannot be merged into the base weights");

    /// <inheritdoc />
    public void Unmerge() { }

    /// <inheritdoc />
    public void Remove(bool keepMerged = false)
    {
        if (_removed) return;
        _removed = true;
        _registration.Dispose();
        PromptEncoderSlot.Unregister(_surface.Root, Name);
        Encoder.Dispose();
    }

    /// <inheritdoc />
    public IAttentionPrefix Compute(long batchSize)
    {
        var c = PrefixConfig;
        int layers = c.NumLayers!.Value, heads = c.NumAttentionHeads!.Value, p = PrefixLength;
        int headDim = c.TokenDim!.Value / heads;
        using var scope = NewDisposeScope();
        // [P, L·2·H·D] → [P, L·2, H, D] → [L·2, H, P, D] → [L·2, B, H, P, D] (the batch is a broadcast view).
        var flat = Encoder.Prefix().to(_surface.WeightDtype);
        var kv = flat.view(p, layers * 2, heads, headDim).permute(1, 2, 0, 3)
            .unsqueeze(1).expand(layers * 2, batchSize, heads, p, headDim);
        return new Prefix(kv.DetachFromDisposeScope());
    }

    private static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>The per-layer key/value prefixes of one forward pass.</summary>
    private sealed class Prefix(Tensor keyValues) : IAttentionPrefix
    {
        public (Tensor Key, Tensor Value) ForLayer(int layerIndex) => (keyValues[2 * layerIndex], keyValues[2 * layerIndex + 1]);

        public void Dispose() => keyValues.Dispose();
    }
}
