using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>
/// What a method sees of the model it adapts: the module tree under Hugging Face names
/// (<c>model.layers.0.self_attn.q_proj</c>, <c>lm_head</c>, …), module replacement, and the
/// hooks prompt-style methods, regularisers and allocators need.
/// </summary>
public interface IPeftModelSurface
{
    /// <summary>The root module (a causal LM); module paths are relative to it.</summary>
    nn.Module Root { get; }

    /// <summary>The model's shape: hidden size, layers, heads, vocabulary.</summary>
    ModelDimensions Dimensions { get; }

    /// <summary>The device the model lives on; methods create their tensors here.</summary>
    Device Device { get; }

    /// <summary>The dtype of the base model's weights (fp32, bf16, fp16).</summary>
    ScalarType WeightDtype { get; }

    /// <summary>Every module once, under its dotted Hugging Face path, the root first as "" (<see cref="ModuleTree.Canonical"/>).</summary>
    IEnumerable<(string Path, nn.Module Module)> NamedModules();

    /// <summary>The module at <paramref name="path"/>; throws naming the path when there is none.</summary>
    nn.Module GetModule(string path);

    /// <summary>Puts <paramref name="replacement"/> where the module at <paramref name="path"/> was.</summary>
    void ReplaceModule(string path, nn.Module replacement);

    /// <summary>Which adapters take part in the current forward pass.</summary>
    IAdapterRouting Routing { get; }

    /// <summary>Adds virtual token embeddings in front of the input (prompt and P-tuning).</summary>
    IDisposable AddInputEmbeddingHook(IInputEmbeddingHook hook);

    /// <summary>Adds per-layer key/value prefixes to attention (prefix tuning).</summary>
    IDisposable AddAttentionPrefix(IAttentionPrefixProvider provider);

    /// <summary>Adds a term to the training loss (e.g. AdaLoRA's orthogonal regulariser).</summary>
    IDisposable AddLossTerm(ILossTerm term);

    /// <summary>Adds callbacks run by the trainer around backward and optimizer steps.</summary>
    IDisposable AddTrainingHooks(ITrainingHooks hooks);

    /// <summary>The model's family as its config's <c>model_type</c> (llama, qwen3, gemma2…): PEFT keys default target modules by it.</summary>
    string ModelType { get; }

    /// <summary>The model's tokenizer when one is loaded (prompt tuning's TEXT init needs it).</summary>
    ITextEncoder? Tokenizer { get; }

    /// <summary>Reports a warning through the host's event bus.</summary>
    void Warn(string message);
}

/// <summary>The dimensions of a decoder-only transformer.</summary>
/// <param name="HiddenSize">The model width (token embeddings).</param>
/// <param name="IntermediateSize">The feed-forward width.</param>
/// <param name="NumLayers">Decoder layers.</param>
/// <param name="NumAttentionHeads">Query heads.</param>
/// <param name="NumKeyValueHeads">Key/value heads (fewer than query heads with grouped-query attention).</param>
/// <param name="HeadDim">The width of one head (the config's head_dim, which may differ from hidden / heads).</param>
/// <param name="VocabSize">Vocabulary size.</param>
/// <param name="WordEmbeddingScale">
/// The factor the model's word-embedding module multiplies the table's rows by (Gemma 3's <c>embed_scale</c>, √hidden;
/// 1 elsewhere): what PEFT's <c>word_embeddings(ids)</c> returns, e.g. for prompt tuning's TEXT initialisation.
/// </param>
public sealed record ModelDimensions(
    int HiddenSize, int IntermediateSize, int NumLayers, int NumAttentionHeads,
    int NumKeyValueHeads, int HeadDim, int VocabSize, double WordEmbeddingScale = 1);

/// <summary>Encodes text into token ids with the model's tokenizer.</summary>
public interface ITextEncoder
{
    /// <summary>Token ids of <paramref name="text"/>, without BOS/EOS.</summary>
    IReadOnlyList<int> Encode(string text);
}
