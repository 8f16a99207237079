using System.Text.Json.Nodes;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// A 4-bit quantizer in bitsandbytes' layout (<c>Params4bit</c> / <c>QuantState</c>): packed codes
/// uint8 [(n+1)/2, 1]; state <c>absmax</c> (float32, or uint8 when double-quantized),
/// <c>quant_map</c> (the 16 codes), <c>nested_absmax</c>, <c>nested_quant_map</c> and the JSON
/// blob <c>quant_state.bitsandbytes__{type}</c>.
/// </summary>
public abstract class FourBitQuantizer(FourBitCode code) : IQuantizer, IRangeDequantizer
{
    /// <summary>The 4-bit data type.</summary>
    public FourBitCode Code => code;

    /// <inheritdoc />
    public string Name => code.Name;

    /// <inheritdoc />
    public abstract string Description { get; }

    /// <inheritdoc />
    public QuantizedTensor Quantize(Tensor weight, QuantizationOptions options)
    {
        int blockSize = BlockSizes.Validate(options.BlockSize);
        var dtype = weight.dtype;
        QuantStateJson.DtypeName(dtype); // refuses non-float weights early
        var (packed, absmax) = FourBitCodec.Quantize(weight, code, blockSize);
        var state = new Dictionary<string, Tensor> { [QuantStateKeys.QuantMap] = code.QuantMapTensor(weight.device) };
        float? offset = DoubleQuantization.StoreAbsmax(state, absmax, options.DoubleQuant);
        var json = QuantStateJson.Create(code.Name, blockSize, dtype, weight.shape, offset);
        state[QuantStateKeys.Blob(code.Name)] = QuantStateJson.Pack(json).to(weight.device);
        return new QuantizedTensor(code.Name, weight.shape, dtype, packed, state, json);
    }

    /// <inheritdoc />
    public Tensor Dequantize(QuantizedTensor quantized, ScalarType dtype)
    {
        if (quantized.QuantType != code.Name)
            throw new ArgumentException($"{Name} cannot dequantize a {quantized.QuantType} tensor");
        using var scope = NewDisposeScope();
        int blockSize = QuantStateJson.Int(quantized.QuantState, "blocksize");
        var absmax = QuantizedState.Absmax(quantized);
        var values = FourBitCodec.Dequantize(quantized.Data, absmax, quantized.State[QuantStateKeys.QuantMap], blockSize, quantized.ElementCount);
        return values.view(quantized.Shape).to(dtype).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    Tensor IRangeDequantizer.DequantizeRange(QuantizedTensor quantized, Tensor absmax, long start, long length)
    {
        using var scope = NewDisposeScope();
        int blockSize = QuantStateJson.Int(quantized.QuantState, "blocksize");
        var packed = quantized.Data.reshape(-1).narrow(0, start / 2, length / 2); // two codes a byte; block sizes are even
        var values = FourBitCodec.Dequantize(packed, absmax.narrow(0, start / blockSize, length / blockSize), quantized.State[QuantStateKeys.QuantMap], blockSize, length);
        return values.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public nn.Module CreateLinear(QuantizedTensor weight, Tensor? bias, ScalarType computeDtype) =>
        new QuantizedLinear(this, weight, bias, computeDtype);
}

/// <summary>NormalFloat4 (QLoRA's data type).</summary>
public sealed class Nf4Quantizer() : FourBitQuantizer(Nf4Code.Instance)
{
    /// <inheritdoc />
    public override string Description => "4-bit NormalFloat (QLoRA), bitsandbytes layout, optional double quantization";
}

/// <summary>bitsandbytes' 4-bit float (E2M1).</summary>
public sealed class Fp4Quantizer() : FourBitQuantizer(Fp4Code.Instance)
{
    /// <inheritdoc />
    public override string Description => "4-bit float (E2M1), bitsandbytes layout, optional double quantization";
}
