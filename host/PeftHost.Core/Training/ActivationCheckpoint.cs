using PeftHost.Core.Models;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training;

/// <summary>
/// Activation recomputation for one decoder layer (gradient checkpointing), as a TorchSharp
/// custom autograd function. Forward runs the layer without recording a graph and keeps only
/// its input (and the shared rotary tables and mask); backward re-runs the layer with the
/// generator returned to where it was, so dropout draws the same masks, back-propagates the
/// incoming gradient through the recomputed graph — which accumulates the layer's parameter
/// gradients — and returns the gradients of the layer input and of any attention prefix.
/// </summary>
internal sealed class ActivationCheckpoint : autograd.SingleTensorFunction<ActivationCheckpoint>
{
    /// <inheritdoc />
    public override string Name => "DecoderLayerCheckpoint";

    /// <summary>Runs <paramref name="layer"/> (index <paramref name="layerIndex"/>) with recomputation in backward.</summary>
    public static Tensor Run(LlamaDecoderLayer layer, int layerIndex, Tensor hidden, AttentionContext context)
    {
        Tensor? prefixKey = null, prefixValue = null;
        if (context.Prefix is not null) (prefixKey, prefixValue) = context.Prefix.ForLayer(layerIndex);
        bool inputNeedsGrad = hidden.requires_grad;
        // With a frozen embedding the first layer's input needs no gradient, yet the layer's own
        // (adapter) parameters do: make the input a leaf that asks for one so the node is recorded.
        if (!inputNeedsGrad && layer.parameters().Any(p => p.requires_grad))
            hidden = hidden.detach().requires_grad_(true);
        return apply(hidden, layer, context, prefixKey, prefixValue, inputNeedsGrad);
    }

    /// <inheritdoc />
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var hidden = (Tensor)vars[0];
        var layer = (LlamaDecoderLayer)vars[1];
        var context = (AttentionContext)vars[2];
        var prefixKey = vars[3] as Tensor;
        var prefixValue = vars[4] as Tensor;
        ctx.save_for_backward([hidden, context.Cos, context.Sin, context.Mask!, prefixKey!, prefixValue!]);
        ctx.save_data("layer", layer);
        ctx.save_data("causal", context.IsCausal);
        ctx.save_data("input_grad", (bool)vars[5]);
        ctx.save_data("prefix_grad", new[] { prefixKey?.requires_grad ?? false, prefixValue?.requires_grad ?? false });
        ctx.save_data("rng", RngReplayPoint.Mark(hidden.device));
        return layer.Forward(hidden, context);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        ReleaseHandedBack();
        // TorchSharp makes new handles for the saved tensors and for gradOutput in the caller's
        // scope (the training step's), which would keep every layer's input and gradient alive
        // until the step ends: the saved ones are unpacked in this layer's scope, gradOutput is
        // disposed once used.
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var layer = (LlamaDecoderLayer)ctx.get_data("layer");
        var prefixGrad = (bool[])ctx.get_data("prefix_grad");
        var rng = (RngReplayPoint)ctx.get_data("rng");

        var input = saved[0].detach().requires_grad_(true);
        var prefixKey = saved[4] is null ? null : saved[4].detach().requires_grad_(prefixGrad[0]);
        var prefixValue = saved[5] is null ? null : saved[5].detach().requires_grad_(prefixGrad[1]);
        var context = new AttentionContext
        {
            Cos = saved[1],
            Sin = saved[2],
            Mask = saved[3],
            IsCausal = (bool)ctx.get_data("causal"),
            Prefix = prefixKey is null ? null : new FixedPrefix(prefixKey, prefixValue!),
        };

        var resume = TorchRng.CaptureCpu();
        rng.Replay();
        Tensor output;
        using (enable_grad()) output = layer.Forward(input, context);
        TorchRng.RestoreCpu(resume);

        autograd.backward([output], [gradOutput]);
        gradOutput.Dispose();
        var grads = new List<Tensor>
        {
            (bool)ctx.get_data("input_grad") ? input.grad! : null!,
            null!, null!,
            prefixKey is not null && prefixGrad[0] ? prefixKey.grad! : null!,
            prefixValue is not null && prefixGrad[1] ? prefixValue.grad! : null!,
            null!,
        };
        // The returned handles must outlive this call (libtorch takes its own references when the
        // call returns); they are released when the next layer's backward starts, or by the step.
        foreach (var g in grads)
            if (g is not null) HandedBack.Add(g.DetachFromDisposeScope());
        return grads;
    }

    [ThreadStatic] private static List<Tensor>? _handedBack;

    private static List<Tensor> HandedBack => _handedBack ??= [];

    /// <summary>Disposes the gradient handles the last backward call returned (libtorch holds its own references by now).</summary>
    public static void ReleaseHandedBack()
    {
        if (_handedBack is null) return;
        foreach (var g in _handedBack) g.Dispose();
        _handedBack.Clear();
    }

    /// <summary>One layer's prefix, already computed, handed back to that layer on recomputation.</summary>
    private sealed class FixedPrefix(Tensor key, Tensor value) : IAttentionPrefix
    {
        public (Tensor Key, Tensor Value) ForLayer(int layerIndex) => (key, value);

        public void Dispose() { }
    }
}
