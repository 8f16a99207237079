using static TorchSharp.torch;

namespace PeftHost.Tests.Support;

/// <summary>Tensor comparisons for assertions.</summary>
public static class TensorAssert
{
    /// <summary>Same shape, same dtype, every element equal.</summary>
    public static bool Identical(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && (a.NumberOfElements == 0 || a.eq(b).all().item<bool>());

    /// <summary>Asserts equal shapes and max |expected − actual| ≤ <paramref name="tolerance"/> relative to max |expected| (absolute below 1).</summary>
    public static void Close(Tensor expected, Tensor actual, double tolerance)
    {
        Assert.Equal(expected.shape, actual.shape);
        double scale = Math.Max(1, expected.abs().max().item<float>());
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= tolerance * scale, $"max difference {diff:G4} exceeds {tolerance:G2} × {scale:G4}");
    }
}
