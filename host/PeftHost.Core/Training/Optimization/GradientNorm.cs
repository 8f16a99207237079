using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training.Optimization;

/// <summary>The global L2 norm of a set of gradients, and clipping by it (as torch.nn.utils.clip_grad_norm_).</summary>
public static class GradientNorm
{
    /// <summary>√Σ‖g‖² over the non-null gradients, as a float32 scalar tensor (0 when there are none).</summary>
    public static Tensor Global(IReadOnlyList<Tensor?> gradients, Device device)
    {
        // linalg.norm with no order and no dims is libtorch's linalg_vector_norm(x, 2.0) over all elements (what
        // vector_norm's default computes), without the order Scalar TorchSharp's vector_norm makes and leaves unheld.
        var norms = gradients.Where(g => g is not null).Select(g => linalg.norm(g!).to(ScalarType.Float32)).ToArray();
        if (norms.Length == 0) return zeros([], ScalarType.Float32, device);
        return linalg.norm(stack(norms.Select(n => n.to(device)).ToArray()));
    }

    /// <summary>Scales the gradients in place by min(1, max / (norm + 1e-6)).</summary>
    public static void Clip(IReadOnlyList<Tensor?> gradients, Tensor totalNorm, double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var one = 1.0.ToScalar();
        var coefficient = totalNorm.Plus(1e-6).reciprocal().Times(maxNorm).clamp_max(one);
        foreach (var g in gradients)
            g?.mul_(coefficient.to(g.dtype, g.device));
    }
}
