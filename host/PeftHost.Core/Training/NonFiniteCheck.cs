using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training;

/// <summary>Finds NaN or infinite values across many tensors with one reduction and one sync in the common (all finite) case.</summary>
internal static class NonFiniteCheck
{
    /// <summary>The index of the first tensor holding a NaN or infinity, or −1 (null and empty tensors are skipped).</summary>
    public static int FirstNonFinite(IReadOnlyList<Tensor?> tensors)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var present = Enumerable.Range(0, tensors.Count).Where(i => tensors[i] is { } t && t.NumberOfElements > 0).ToArray();
        if (present.Length == 0) return -1;
        var device = tensors[present[0]]!.device;
        // max and min propagate NaN and show ±inf; unlike max(|x|) they need no full-size temporary
        // (abs() of every weight at once doubled a full fine-tune's memory at this check).
        var extremes = stack(present.SelectMany(i => new[] { tensors[i]!.max(), tensors[i]!.min() })
            .Select(e => e.to(ScalarType.Float32).to(device)).ToArray());
        if (isfinite(extremes).all().item<bool>()) return -1;
        foreach (int i in present)
            if (!isfinite(tensors[i]!).all().item<bool>()) return i;
        return -1;
    }
}
