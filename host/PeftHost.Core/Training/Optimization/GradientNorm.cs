using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training.Optimization;

/// <summary>The global L2 norm of a set of gradients, and clipping by it (as torch.nn.utils.clip_grad_norm_).</summary>
public static class GradientNorm
{
    /// <summary>√Σ‖g‖² over the non-null gradients, as a float32 scalar tensor (0 when there are none).</summary>
    public static Tensor Global(IReadOnlyList<Tensor?> gradients, Device device)
    {
        var norms = gradients.Where(g => g is not null).Select(g => linalg.vector_norm(g!).to(ScalarType.Float32)).ToArray();
        if (norms.Length == 0) return zeros([], ScalarType.Float32, device);
        return linalg.vector_norm(stack(norms.Select(n => n.to(device)).ToArray()));
    }

    /// <summary>Scales the gradients in place by min(1, max / (norm + 1e-6)).</summary>
    public static void Clip(IReadOnlyList<Tensor?> gradients, Tensor totalNorm, double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var coefficient = (maxNorm / (totalNorm + 1e-6)).clamp_max(1.0);
        foreach (var g in gradients)
            g?.mul_(coefficient.to(g.dtype, g.device));
    }
}
