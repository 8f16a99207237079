using PeftHost.Core.Quantization.Codecs;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// QLoRA's double quantization of the absmax values: offset = mean(absmax) (float32, torch's
/// mean), then absmax − offset quantized blockwise (256) to 8 bits with the signed dynamic map.
/// Restoring is dynamic[q] · nested_absmax + offset in float32.
/// </summary>
public static class DoubleQuantization
{
    /// <summary>The nested quantization of an absmax vector: uint8 codes, per-256 absmax, the map and the offset.</summary>
    public sealed record Result(Tensor Codes, Tensor NestedAbsmax, Tensor NestedQuantMap, float Offset);

    private static readonly Lazy<CodebookSearch> Search = new(() => new CodebookSearch(DynamicMap.Values(signed: true)));

    /// <summary>The signed dynamic map's 256 values (the nested quant map).</summary>
    public static IReadOnlyList<float> DynamicMapValues => DynamicMap.Values(signed: true);

    /// <summary>Quantizes float32 <paramref name="absmax"/> [blocks] with blocks of <paramref name="nestedBlockSize"/>.</summary>
    public static Result Quantize(Tensor absmax, int nestedBlockSize = BlockSizes.Nested)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var absmax32 = absmax.to(ScalarType.Float32);
        var offset = absmax32.mean();
        var centered = absmax32 - offset;
        var (codes, nestedAbsmax) = Blockwise8Bit.Quantize(centered, Search.Value, nestedBlockSize);
        var map = DynamicMap.Create(signed: true, absmax.device);
        return new Result(codes.MoveToOuterDisposeScope(), nestedAbsmax.MoveToOuterDisposeScope(), map.MoveToOuterDisposeScope(), offset.item<float>());
    }

    /// <summary>
    /// Stores <paramref name="absmax"/> in a quantized tensor's <paramref name="state"/> under
    /// bitsandbytes' keys: as it is, or with <paramref name="doubleQuant"/> as its nested
    /// quantization (codes, nested absmax and map; <paramref name="absmax"/> is then disposed).
    /// Returns the nested offset for the quant state JSON, null without double quantization.
    /// </summary>
    public static float? StoreAbsmax(IDictionary<string, Tensor> state, Tensor absmax, bool doubleQuant)
    {
        if (!doubleQuant)
        {
            state[QuantStateKeys.Absmax] = absmax;
            return null;
        }
        var nested = Quantize(absmax);
        absmax.Dispose();
        state[QuantStateKeys.Absmax] = nested.Codes;
        state[QuantStateKeys.NestedAbsmax] = nested.NestedAbsmax;
        state[QuantStateKeys.NestedQuantMap] = nested.NestedQuantMap;
        return nested.Offset;
    }

    /// <summary>The float32 absmax values [blocks] restored from their nested quantization.</summary>
    public static Tensor Restore(Tensor codes, Tensor nestedAbsmax, Tensor nestedQuantMap, float offset, int nestedBlockSize = BlockSizes.Nested)
    {
        using var scope = NewDisposeScope();
        var values = Blockwise8Bit.Dequantize(codes, nestedAbsmax, nestedQuantMap, nestedBlockSize);
        return values.Plus(offset).MoveToOuterDisposeScope();
    }
}
