using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Models;

/// <summary>
/// Σ −log softmax(h·Wᵀ)[label] over the rows whose label is not −100, without ever holding the
/// [rows, vocab] logits: the rows are projected a chunk at a time, and since the loss is the end
/// of the graph the forward pass also computes each chunk's gradient (softmax − one-hot) and folds
/// it into ∂loss/∂h [rows, hidden] (and ∂loss/∂W when W trains). Backward only scales those by the
/// incoming gradient. This is the fused linear cross-entropy of Liger-Kernel: the unfused path
/// keeps the logits, their log-softmax and two gradients of that size (4 · rows · vocab floats,
/// 131 MB for 256 tokens of a 32,000-word vocabulary); here one chunk of logits exists at a time.
/// The same matmuls run as in the unfused path, so it costs no extra compute.
/// </summary>
internal sealed class FusedLinearCrossEntropy : autograd.SingleTensorFunction<FusedLinearCrossEntropy>
{
    /// <summary>Logit values per chunk (8 MiB of float32).</summary>
    private const long ChunkLogits = 1L << 21;

    /// <inheritdoc />
    public override string Name => "FusedLinearCrossEntropy";

    /// <summary>The summed loss (float32 scalar) of <paramref name="hidden"/> [rows, hidden] against <paramref name="labels"/> [rows] (int64, −100 ignored) through <paramref name="weight"/> [vocab, hidden].</summary>
    public static Tensor Sum(Tensor hidden, Tensor weight, Tensor labels) =>
        apply(hidden, weight, labels, hidden.requires_grad, weight.requires_grad);

    /// <inheritdoc />
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var hidden = (Tensor)vars[0];
        var weight = (Tensor)vars[1];
        var labels = (Tensor)vars[2];
        bool hiddenGrad = (bool)vars[3], weightGrad = (bool)vars[4];
        using var noGrad = no_grad();
        long rows = hidden.shape[0], vocab = weight.shape[0];
        long chunkRows = Math.Max(1, ChunkLogits / vocab);
        var gradHidden = hiddenGrad ? empty_like(hidden) : null;
        var gradWeight = weightGrad ? zeros(weight.shape, ScalarType.Float32, weight.device) : null;
        var total = zeros([], ScalarType.Float32, hidden.device);
        using var ignoreIndex = LanguageModelLoss.IgnoreIndex.ToScalar();
        using var zero = 0.ToScalar();
        using var minusOne = (-1f).ToScalar();
        for (long start = 0; start < rows; start += chunkRows)
        {
            using var scope = NewDisposeScope();
            long length = Math.Min(chunkRows, rows - start);
            var h = hidden.narrow(0, start, length);
            var target = labels.narrow(0, start, length);
            var logits = F.linear(h, weight).to(ScalarType.Float32);
            var valid = target != ignoreIndex;
            var index = target.clamp_min(zero).unsqueeze(1);
            var logSumExp = logits.logsumexp(1);
            var nll = logSumExp - logits.gather(1, index).squeeze(1);
            total.AddInPlace(nll.where(valid, zeros_like(nll)).sum());
            if (gradHidden is null && gradWeight is null) continue;

            // ∂nll/∂logits = softmax − one-hot(label), zero on ignored rows; built in the logits' buffer.
            var grad = logits.sub_(logSumExp.unsqueeze(1)).exp_();
            grad.scatter_add_(1, index, full([length, 1], minusOne, ScalarType.Float32, grad.device));
            grad.mul_(valid.unsqueeze(1));
            // F.linear above already needed hidden and weight in one dtype.
            gradHidden?.narrow(0, start, length).copy_(grad.to(hidden.dtype).mm(weight));
            gradWeight?.addmm_(grad.t(), h.to(ScalarType.Float32));
        }
        var saved = new List<Tensor>();
        if (gradHidden is not null) saved.Add(gradHidden);
        if (gradWeight is not null) saved.Add(gradWeight);
        ctx.save_for_backward(saved);
        ctx.save_data("hidden_grad", hiddenGrad);
        ctx.save_data("weight_grad", weightGrad);
        ctx.save_data("weight_dtype", weight.dtype);
        return total;
    }

    /// <inheritdoc />
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        bool hiddenGrad = (bool)ctx.get_data("hidden_grad"), weightGrad = (bool)ctx.get_data("weight_grad");
        int next = 0;
        Tensor? gradHidden = hiddenGrad ? saved[next++] * gradOutput.to(saved[0].dtype) : null;
        Tensor? gradWeight = weightGrad ? (saved[next] * gradOutput).to((ScalarType)ctx.get_data("weight_dtype")) : null;
        return [gradHidden!, gradWeight!, null!, null!, null!];
    }
}
