using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>The decoder stack under the name <c>model</c>: embed_tokens, layers, norm.</summary>
public sealed class LlamaModel : HfModule
{
    private static readonly string[] Children = ["embed_tokens"];
    private nn.Module<Tensor, Tensor> _embedTokens;
    private TokenEmbedding _embedding; // the plain embedding, even while an adapter wraps embed_tokens

    /// <summary>Builds the stack.</summary>
    public LlamaModel(ModelConfig config, ParameterFactory factory) : base("model")
    {
        _embedding = new TokenEmbedding(factory.Weight(config.VocabSize, config.HiddenSize));
        _embedTokens = _embedding;
        Layers = new ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new LlamaDecoderLayer(config, factory, i)).ToArray());
        Norm = new RmsNorm(factory, config.HiddenSize, config);
        register_module("embed_tokens", _embedTokens);
        register_module("layers", Layers);
        register_module("norm", Norm);
    }

    /// <summary>The token embedding table [vocab, hidden] (also lm_head's weight when tied).</summary>
    public Parameter EmbeddingWeight => _embedding.Weight;

    /// <summary>The decoder layers.</summary>
    public ModuleList<LlamaDecoderLayer> Layers { get; }

    /// <summary>The final norm.</summary>
    public RmsNorm Norm { get; }

    /// <summary>The embedding module (possibly wrapped by an adapter).</summary>
    public nn.Module<Tensor, Tensor> EmbedTokens => _embedTokens;

    /// <inheritdoc />
    public override IReadOnlyCollection<string> ReplaceableChildren => Children;

    /// <inheritdoc />
    protected override void SetChild(string childName, nn.Module<Tensor, Tensor> module)
    {
        _embedTokens = module;
        var previous = _embedding.Weight;
        // A wrapper (an adapter's, k-bit training's) or the original put back still holds the current table.
        if (module.parameters().Any(p => ReferenceEquals(p, previous) || p.Handle == previous.Handle)) return;
        if (module is TokenEmbedding table) _embedding = table;
        TableReplaced?.Invoke(previous);
    }

    /// <summary>
    /// Called when a module without the current table takes embed_tokens' place (merging an adapter's saved
    /// copy of it), with the table it replaced.
    /// </summary>
    internal Action<Parameter>? TableReplaced { get; set; }
}
