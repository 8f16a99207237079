using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>
/// A module in <c>embed_tokens</c>' place that also decides the table a tied output layer projects with:
/// PEFT's <c>ensure_weight_tying</c>, where an adapter's trained copy of the embedding table serves both
/// sides of a model with <c>tie_word_embeddings</c>, as the model's own table did.
/// </summary>
public interface ITiedOutputTable
{
    /// <summary>
    /// The [vocab, hidden] table for the output layer in the current forward pass, or null for the model's own
    /// table (no tying adapter active). Throws where the pass cannot be served by one table (a mixed-adapter batch).
    /// </summary>
    Tensor? OutputTable { get; }
}
