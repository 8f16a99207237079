using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>Reads the shared parts of a <see cref="QuantizedTensor"/>'s state.</summary>
public static class QuantizedState
{
    /// <summary>True when the absmax values are double-quantized.</summary>
    public static bool IsNested(QuantizedTensor quantized) => quantized.State.ContainsKey(QuantStateKeys.NestedAbsmax);

    /// <summary>The per-block absmax as float32, restored from the double quantization when nested.</summary>
    public static Tensor Absmax(QuantizedTensor quantized)
    {
        var absmax = quantized.State[QuantStateKeys.Absmax];
        if (!IsNested(quantized)) return absmax.to(ScalarType.Float32);
        int nestedBlockSize = QuantStateJson.Int(quantized.QuantState, "nested_blocksize");
        float offset = (float)QuantStateJson.Double(quantized.QuantState, "nested_offset");
        return DoubleQuantization.Restore(absmax, quantized.State[QuantStateKeys.NestedAbsmax],
            quantized.State[QuantStateKeys.NestedQuantMap], offset, nestedBlockSize);
    }

    /// <summary>The options that reproduce <paramref name="quantized"/>'s layout (block size, nesting; int8 rows have neither).</summary>
    public static QuantizationOptions Options(QuantizedTensor quantized, ScalarType computeDtype) =>
        quantized.QuantState.ContainsKey("blocksize")
            ? new(QuantStateJson.Int(quantized.QuantState, "blocksize"), IsNested(quantized), computeDtype)
            : new(DoubleQuant: false, ComputeDtype: computeDtype);
}
