using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>
/// Wraps the input embeddings so that their output requires grad even though the table is frozen
/// (PEFT's <c>enable_input_require_grads</c>): recomputed layers then receive gradients. The table
/// stays registered as <c>weight</c>, so parameter names and checkpoints are unchanged.
/// </summary>
public sealed class InputRequiresGradEmbedding : CanonicalModule<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _inner;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public InputRequiresGradEmbedding(nn.Module<Tensor, Tensor> inner) : base("embed_tokens")
    {
        _inner = inner;
        foreach (var (name, p) in inner.named_parameters(recurse: false)) register_parameter(name, p);
    }

    /// <summary>The wrapped embedding.</summary>
    public nn.Module<Tensor, Tensor> Inner => _inner;

    /// <inheritdoc />
    public override Tensor forward(Tensor ids)
    {
        var output = _inner.forward(ids);
        if (is_grad_enabled() && !output.requires_grad) output.requires_grad_(true);
        return output;
    }
}
