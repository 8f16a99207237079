using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>
/// One prompt-tuning or P-tuning adapter: a <see cref="VirtualTokenEncoder"/> (registered in the model at
/// <c>prompt_encoder.{adapter}</c>) whose output is prepended to the input embeddings through the model's
/// input-embedding hook. Saved as PEFT saves it: one tensor <c>prompt_embeddings</c> [num_virtual_tokens, token_dim]
/// — the encoder's output, so a loaded adapter reproduces the same virtual embeddings.
/// </summary>
/// <remarks>Prompt methods cannot serve mixed-adapter batches; the model refuses them with a clear error.</remarks>
public sealed class PromptLearningAdapter : IAdapter, IInputEmbeddingHook
{
    /// <summary>The single key PEFT saves for prompt-learning methods.</summary>
    public const string StateKey = "prompt_embeddings";

    private readonly IPeftModelSurface _surface;
    private readonly IDisposable _registration;
    private readonly string _methodName;
    private bool _removed;

    internal PromptLearningAdapter(IPeftModelSurface surface, string name, PromptLearningConfig config, VirtualTokenEncoder encoder, string methodName)
    {
        _surface = surface;
        _methodName = methodName;
        Name = name;
        PromptConfig = config;
        Encoder = encoder;
        PromptEncoderSlot.Register(surface.Root, name, encoder);
        _registration = surface.AddInputEmbeddingHook(this);
    }

    /// <inheritdoc cref="IAdapter.Name" />
    public string Name { get; }

    /// <inheritdoc />
    string IInputEmbeddingHook.AdapterName => Name;

    /// <inheritdoc />
    public PeftConfig Config => PromptConfig;

    /// <summary>The typed (resolved) config.</summary>
    public PromptLearningConfig PromptConfig { get; }

    /// <summary>The encoder producing the virtual token embeddings.</summary>
    public VirtualTokenEncoder Encoder { get; }

    /// <inheritdoc />
    public int VirtualTokenCount => PromptConfig.TotalVirtualTokens;

    /// <inheritdoc />
    public bool CanMerge => false;

    /// <inheritdoc />
    public bool IsMerged => false;

    /// <inheritdoc />
    public Tensor VirtualEmbeddings(long batchSize)
    {
        using var scope = NewDisposeScope();
        var e = Encoder.Embeddings().to(_surface.WeightDtype);
        return e.unsqueeze(0).expand(batchSize, e.shape[0], e.shape[1]).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    /// <remarks>Keyed as PEFT names them, without the adapter name: <c>prompt_encoder.embedding.weight</c>, <c>prompt_encoder.mlp_head.0.weight</c>, ….</remarks>
    public IEnumerable<(string Key, Parameter Parameter)> NamedParameters() =>
        Encoder.named_parameters().Select(p => ($"{PromptEncoderSlot.ContainerName}.{p.name}", p.parameter)).ToList();

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var embeddings = Encoder.Embeddings().detach().to(ScalarType.Float32).cpu().clone();
        return new Dictionary<string, Tensor> { [StateKey] = embeddings.MoveToOuterDisposeScope() };
    }

    /// <inheritdoc />
    /// <remarks>
    /// The table takes the loaded embeddings; a P-tuning encoder drops its MLP/LSTM (its input cannot be recovered
    /// from its output), so the adapter outputs exactly what was saved and, if it trains on, trains the table.
    /// </remarks>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        long[] expected = [VirtualTokenCount, PromptConfig.TokenDim!.Value];
        if (!state.TryGetValue(StateKey, out var value))
            throw new InvalidDataException($"cannot load {_methodName} adapter '{Name}': missing tensor '{StateKey}' (expected shape {Shape(expected)})");
        if (!value.shape.SequenceEqual(expected))
            throw new InvalidDataException(
                $"cannot load {_methodName} adapter '{Name}': tensor '{StateKey}' has shape {Shape(value.shape)} but the adapter expects {Shape(expected)} " +
                $"(num_virtual_tokens {VirtualTokenCount} × token_dim {PromptConfig.TokenDim})");
        foreach (var key in state.Keys.Where(k => k != StateKey))
            _surface.Warn($"{_methodName} adapter '{Name}': unexpected tensor '{key}' ignored");
        if (Encoder.IsReparameterized && Encoder.Embedding.Weight.requires_grad)
            _surface.Warn($"{_methodName} adapter '{Name}': the saved embeddings are the prompt encoder's output; training continues on them directly");
        Encoder.LoadEmbeddings(value);
    }

    /// <inheritdoc />
    public void Merge() => throw new InvalidOperationException($"{_methodName} adapter '{Name}' cannot be merged into the base weights");

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

    private static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
