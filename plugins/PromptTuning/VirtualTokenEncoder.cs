using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>
/// What prompt tuning and P-tuning share: a module whose output is the virtual token embeddings
/// [total virtual tokens, token_dim], starting from a table <c>embedding</c>.
/// </summary>
public abstract class VirtualTokenEncoder(string name) : CanonicalModule<Tensor, Tensor>(name)
{
    /// <summary>The table the embeddings start from (the embeddings themselves for prompt tuning).</summary>
    public abstract EmbeddingTable Embedding { get; }

    /// <summary>True while the output is computed by a reparametrising network (P-tuning's MLP or LSTM).</summary>
    public abstract bool IsReparameterized { get; }

    /// <summary>The virtual token embeddings [total virtual tokens, token_dim] (float32, with gradient when training).</summary>
    public abstract Tensor Embeddings();

    /// <summary>
    /// Makes the encoder output <paramref name="embeddings"/> exactly: the table holds them and any
    /// reparametrising network is dropped (PEFT's inference-mode encoder is this plain table).
    /// </summary>
    public abstract void LoadEmbeddings(Tensor embeddings);

    /// <inheritdoc />
    public override Tensor forward(Tensor ids) => Embeddings().index_select(0, ids.reshape(-1)).view([.. ids.shape, -1]);
}
