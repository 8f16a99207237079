using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>A quantizer that decodes a block-aligned range of a tensor's elements without touching the rest (for <see cref="RowBands"/>).</summary>
internal interface IRangeDequantizer
{
    /// <summary>
    /// float32 values of elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>)
    /// of <paramref name="quantized"/> (row-major), given its per-block absmax already restored to
    /// float32 (<see cref="QuantizedState.Absmax"/>); start and length are multiples of the block size.
    /// </summary>
    Tensor DequantizeRange(QuantizedTensor quantized, Tensor absmax, long start, long length);
}
