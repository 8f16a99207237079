using TorchSharp;
using static TorchSharp.torch;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>PEFT's <c>PromptEmbedding</c> (prompt tuning): the virtual token embeddings are the table <c>embedding</c> itself.</summary>
public sealed class PromptEmbedding : VirtualTokenEncoder
{
    private readonly EmbeddingTable _embedding;

    /// <summary>Creates the table [rows, width] (N(0, 1), float32) on <paramref name="device"/>.</summary>
    public PromptEmbedding(long rows, long width, Device device, bool trainable) : base("PromptEmbedding")
    {
        _embedding = new EmbeddingTable(rows, width, device, trainable: trainable);
        register_module("embedding", _embedding);
    }

    /// <inheritdoc />
    public override EmbeddingTable Embedding => _embedding;

    /// <inheritdoc />
    public override bool IsReparameterized => false;

    /// <inheritdoc />
    public override Tensor Embeddings() => _embedding.Weight;

    /// <inheritdoc />
    public override void LoadEmbeddings(Tensor embeddings)
    {
        using var _ = no_grad();
        _embedding.Weight.copy_(embeddings);
    }
}
