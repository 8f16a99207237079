using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using static TorchSharp.torch;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>
/// One prompt-tuning or P-tuning adapter: a <see cref="VirtualTokenEncoder"/> (registered in the model at
/// <c>prompt_encoder.{adapter}</c>) whose output is prepended to the input embeddings through the model's
/// input-embedding hook. Saved as PEFT saves it: one tensor <c>prompt_embeddings</c> [num_virtual_tokens, token_dim]
/// — the encoder's output, so a loaded adapter reproduces the same virtual embeddings.
/// </summary>
/// <remarks>Prompt methods cannot serve mixed-adapter batches; the model refuses them with a clear error.</remarks>
public sealed class PromptLearningAdapter : PromptEncoderAdapter<VirtualTokenEncoder>, IInputEmbeddingHook
{
    internal PromptLearningAdapter(IPeftModelSurface surface, string name, PromptLearningConfig config, VirtualTokenEncoder encoder, string methodName)
        : base(surface, name, config, encoder, methodName)
    {
        PromptConfig = config;
        HoldHook(surface.AddInputEmbeddingHook(this));
    }

    /// <inheritdoc />
    string IInputEmbeddingHook.AdapterName => Name;

    /// <summary>The typed (resolved) config.</summary>
    public PromptLearningConfig PromptConfig { get; }

    /// <inheritdoc />
    public int VirtualTokenCount => PromptConfig.TotalVirtualTokens;

    /// <inheritdoc />
    public Tensor VirtualEmbeddings(long batchSize)
    {
        using var scope = NewDisposeScope();
        var e = Encoder.Embeddings().to(Surface.WeightDtype);
        return e.unsqueeze(0).expand(batchSize, e.shape[0], e.shape[1]).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override long[] StateShape => [VirtualTokenCount, PromptConfig.TokenDim!.Value];

    /// <inheritdoc />
    protected override string StateShapeOrigin => $"num_virtual_tokens {VirtualTokenCount} × token_dim {PromptConfig.TokenDim}";

    /// <inheritdoc />
    protected override Tensor EncoderOutput() => Encoder.Embeddings();

    /// <inheritdoc />
    /// <remarks>
    /// The table takes the loaded embeddings; a P-tuning encoder drops its MLP/LSTM (its input cannot be recovered
    /// from its output), so the adapter outputs exactly what was saved and, if it trains on, trains the table.
    /// </remarks>
    protected override void LoadEncoderOutput(Tensor output) => Encoder.LoadEmbeddings(output);

    /// <inheritdoc />
    protected override string? ReparameterizationWarning() => Encoder.IsReparameterized && Encoder.Embedding.Weight.requires_grad
        ? "the saved embeddings are the prompt encoder's output; training continues on them directly"
        : null;
}
