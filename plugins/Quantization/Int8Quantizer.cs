using System.Text.Json.Nodes;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// LLM.int8 weights, as bitsandbytes' <c>Linear8bitLt</c> holds them for transformers'
/// <c>load_in_8bit</c>: vector-wise (row-wise) absmax quantization
/// (<c>int8_vectorwise_quant</c>): <c>SCB</c> = max |W| of each row (float32 [out]) and
/// codes = round(W · (127 / SCB)) as int8 [out, in]; dequantized as codes · SCB / 127
/// (<c>int8_vectorwise_dequant</c>'s multiply by 7.874015718698502e-3). The state keys are the
/// module's own in bitsandbytes' state dict: <c>weight</c>, <c>SCB</c> and <c>weight_format</c>
/// (0, row-major). There are no blocks and no double quantization.
/// </summary>
public sealed class Int8Quantizer : IQuantizer
{
    /// <summary>Row scales, one per output row: the layer's <c>SCB</c> buffer.</summary>
    public const string RowScales = "SCB";

    /// <summary>The layout marker bitsandbytes saves beside <c>SCB</c>: 0, row-major (the only layout it still writes).</summary>
    public const string WeightFormat = "weight_format";

    // bitsandbytes multiplies by this float32 constant rather than dividing by 127.
    private const float InverseOf127 = 7.874015718698502e-3f;

    /// <inheritdoc />
    public string Name => "int8";

    /// <inheritdoc />
    public string Description => "LLM.int8 row-wise 8-bit weights (bitsandbytes' Linear8bitLt, transformers' load_in_8bit)";

    /// <inheritdoc />
    public QuantizedTensor Quantize(Tensor weight, QuantizationOptions options)
    {
        if (options.DoubleQuant)
            throw new ConfigException("int8 (LLM.int8) quantizes each row with one float32 scale and has no double quantization: set doubleQuant to false", "doubleQuant");
        if (weight.dim() != 2) throw new ArgumentException($"int8 quantizes 2-D weights row by row, got [{string.Join(", ", weight.shape)}]");
        var dtype = weight.dtype;
        QuantStateJson.DtypeName(dtype);
        using var scope = NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32);
        var scales = w.abs().amax([1]);
        // An all-zero row has scale 0: its codes are 0 (127/0 would make them NaN).
        using var zero = 0.ToScalar();
        var factor = torch.where(scales.eq(zero), zeros_like(scales), scales.reciprocal().Times(127f));
        var codes = (w * factor.unsqueeze(1)).round_().to(ScalarType.Int8);
        var state = new Dictionary<string, Tensor>
        {
            [RowScales] = scales.MoveToOuterDisposeScope(),
            [WeightFormat] = tensor((byte)0, ScalarType.Byte, weight.device).MoveToOuterDisposeScope(),
        };
        var json = new JsonObject
        {
            ["quant_type"] = Name,
            ["dtype"] = QuantStateJson.DtypeName(dtype),
            ["shape"] = new JsonArray(weight.shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
        };
        return new QuantizedTensor(Name, weight.shape, dtype, codes.MoveToOuterDisposeScope(), state, json);
    }

    /// <inheritdoc />
    public Tensor Dequantize(QuantizedTensor quantized, ScalarType dtype)
    {
        if (quantized.QuantType != Name) throw new ArgumentException($"{Name} cannot dequantize a {quantized.QuantType} tensor");
        using var scope = NewDisposeScope();
        var scales = quantized.State[RowScales].to(ScalarType.Float32).Times(InverseOf127);
        var values = quantized.Data.to(ScalarType.Float32).view(quantized.Shape) * scales.unsqueeze(1);
        return values.to(dtype).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public nn.Module CreateLinear(QuantizedTensor weight, Tensor? bias, ScalarType computeDtype) =>
        new QuantizedLinear(this, weight, bias, computeDtype);
}
