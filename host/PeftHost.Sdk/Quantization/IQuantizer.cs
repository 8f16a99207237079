using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>A weight quantization scheme (nf4, fp4, int8) brought by a plugin.</summary>
public interface IQuantizer
{
    /// <summary>The name recipes and the CLI use, e.g. <c>nf4</c>.</summary>
    string Name { get; }

    /// <summary>A one-line description shown by <c>peft plugins</c>.</summary>
    string Description { get; }

    /// <summary>Quantizes a weight (any shape; flattened row-major).</summary>
    QuantizedTensor Quantize(Tensor weight, QuantizationOptions options);

    /// <summary>Restores a full-precision tensor of the original shape in <paramref name="dtype"/>.</summary>
    Tensor Dequantize(QuantizedTensor quantized, ScalarType dtype);

    /// <summary>
    /// A linear layer that keeps only <paramref name="weight"/>'s quantized form and dequantizes
    /// inside its forward. The module implements <see cref="ILinearLayer"/>.
    /// </summary>
    nn.Module CreateLinear(QuantizedTensor weight, Tensor? bias, ScalarType computeDtype);
}

/// <summary>Options for <see cref="IQuantizer.Quantize"/>.</summary>
/// <param name="BlockSize">Elements per absmax block (bitsandbytes: 64 by default for 4-bit).</param>
/// <param name="DoubleQuant">Quantize the absmax values again (QLoRA's double quantization).</param>
/// <param name="ComputeDtype">The dtype the layer computes in after dequantization.</param>
public sealed record QuantizationOptions(int BlockSize = 64, bool DoubleQuant = true, ScalarType ComputeDtype = ScalarType.Float32);

/// <summary>
/// A quantized tensor in bitsandbytes' serialization layout: the packed data plus named state
/// tensors (<c>absmax</c>, <c>quant_map</c>, <c>nested_absmax</c>, …) and a JSON quant state.
/// </summary>
public sealed class QuantizedTensor : IDisposable
{
    /// <summary>Creates a quantized tensor.</summary>
    public QuantizedTensor(string quantType, long[] shape, ScalarType originalDtype, Tensor data,
        IReadOnlyDictionary<string, Tensor> state, JsonObject quantState)
    {
        QuantType = quantType; Shape = shape; OriginalDtype = originalDtype; Data = data; State = state; QuantState = quantState;
    }

    /// <summary>The scheme, as bitsandbytes names it: nf4, fp4, int8.</summary>
    public string QuantType { get; }

    /// <summary>The original tensor's shape.</summary>
    public long[] Shape { get; }

    /// <summary>The original tensor's dtype.</summary>
    public ScalarType OriginalDtype { get; }

    /// <summary>The packed codes (uint8).</summary>
    public Tensor Data { get; }

    /// <summary>State tensors keyed by their suffix after <c>weight.</c>: absmax, quant_map, nested_absmax, nested_quant_map.</summary>
    public IReadOnlyDictionary<string, Tensor> State { get; }

    /// <summary>The JSON quant state bitsandbytes stores as <c>quant_state.bitsandbytes__{type}</c>.</summary>
    public JsonObject QuantState { get; }

    /// <summary>Number of elements of the original tensor.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Bytes held by the packed data and all state tensors.</summary>
    public long StorageBytes => Data.NumberOfElements * Data.ElementSize + State.Values.Sum(t => t.NumberOfElements * t.ElementSize);

    /// <summary>Disposes the data and state tensors.</summary>
    public void Dispose()
    {
        Data.Dispose();
        foreach (var t in State.Values) t.Dispose();
    }
}
