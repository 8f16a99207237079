using static TorchSharp.torch;

namespace PeftHost.Tests.Support;

/// <summary>Tensor comparisons for assertions.</summary>
public static class TensorAssert
{
    /// <summary>Same shape, same dtype, every element equal.</summary>
    public static bool Identical(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && (a.NumberOfElements == 0 || a.eq(b).all().item<bool>());
}
