using PeftHost.Core.Quantization.Codecs;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// Blockwise 8-bit quantization with the signed dynamic map (bitsandbytes' <c>quantize_blockwise</c>,
/// the CUDA kernel's nearest-entry rule): codes uint8 with the tensor's shape, absmax per block
/// (float32, or double-quantized like the 4-bit types), <c>quant_map</c> = the dynamic map.
/// For 8-bit bases kept in memory; bitsandbytes has no serialized form of it for whole models.
/// </summary>
public sealed class Int8Quantizer : IQuantizer, IRangeDequantizer
{
    private static readonly Lazy<CodebookSearch> Search = new(() => new CodebookSearch(DynamicMap.Values(signed: true)));

    /// <inheritdoc />
    public string Name => "int8";

    /// <inheritdoc />
    public string Description => "8-bit blockwise with bitsandbytes' dynamic map, optional double quantization";

    /// <inheritdoc />
    public QuantizedTensor Quantize(Tensor weight, QuantizationOptions options)
    {
        int blockSize = BlockSizes.Validate(options.BlockSize);
        var dtype = weight.dtype;
        QuantStateJson.DtypeName(dtype);
        var (codes, absmax) = Blockwise8Bit.Quantize(weight.detach(), Search.Value, blockSize);
        var state = new Dictionary<string, Tensor> { [QuantStateKeys.QuantMap] = DynamicMap.Create(signed: true, weight.device) };
        float? offset = DoubleQuantization.StoreAbsmax(state, absmax, options.DoubleQuant);
        var json = QuantStateJson.Create(Name, blockSize, dtype, weight.shape, offset);
        state[QuantStateKeys.Blob(Name)] = QuantStateJson.Pack(json).to(weight.device);
        var data = codes.view(weight.shape);
        return new QuantizedTensor(Name, weight.shape, dtype, data, state, json);
    }

    /// <inheritdoc />
    public Tensor Dequantize(QuantizedTensor quantized, ScalarType dtype)
    {
        if (quantized.QuantType != Name) throw new ArgumentException($"{Name} cannot dequantize a {quantized.QuantType} tensor");
        using var scope = NewDisposeScope();
        int blockSize = QuantStateJson.Int(quantized.QuantState, "blocksize");
        var absmax = QuantizedState.Absmax(quantized);
        var values = Blockwise8Bit.Dequantize(Codes(quantized.Data), absmax, quantized.State[QuantStateKeys.QuantMap], blockSize);
        return values.view(quantized.Shape).to(dtype).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    Tensor IRangeDequantizer.DequantizeRange(QuantizedTensor quantized, Tensor absmax, long start, long length)
    {
        using var scope = NewDisposeScope();
        int blockSize = QuantStateJson.Int(quantized.QuantState, "blocksize");
        var codes = Codes(quantized.Data.reshape(-1).narrow(0, start, length));
        var values = Blockwise8Bit.Dequantize(codes, absmax.narrow(0, start / blockSize, length / blockSize), quantized.State[QuantStateKeys.QuantMap], blockSize);
        return values.MoveToOuterDisposeScope();
    }

    /// <summary>The codes as uint8 (a layer stores them as int8, the same bits, so that parameter counting does not double them).</summary>
    private static Tensor Codes(Tensor data) => data.dtype == ScalarType.Int8 ? data.to(ScalarType.Byte) : data;

    /// <inheritdoc />
    public nn.Module CreateLinear(QuantizedTensor weight, Tensor? bias, ScalarType computeDtype) =>
        new QuantizedLinear(this, weight, bias, computeDtype);
}
