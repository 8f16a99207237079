using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// A quantized weight [out, in] dequantized a band of rows at a time, so the matmuls of a 4-bit
/// layer never hold the whole full-precision weight: y = x·Wᵀ is computed band by band
/// into its output columns and ∂x = ∂y·W accumulated band by band. With rows of whole blocks
/// (in a multiple of the block size) a band's codes and absmax are plain slices of the layer's.
/// Each band is at most <see cref="BandElements"/> weights (1 MiB in float32) plus its codes,
/// where the whole weight of a ~1B model's MLP layer is 46 MB plus 23 MB of code indices. Small
/// bands keep a band's decoded values in the core's cache between the decode, the scaling and the
/// matmul: with 2M-weight bands a ~20M NF4 model decoded 18–19 tokens/s, with 256K 22 (QLoRA
/// training the same within noise; 64K slower again, 16 tokens/s, from the calls' overhead).
/// The per-element arithmetic is the whole-weight dequantization's, so the values are identical.
/// </summary>
internal sealed class RowBands : IDisposable
{
    /// <summary>Weights per band.</summary>
    public const long BandElements = 1L << 18;

    private readonly QuantizedTensor _quantized;
    private readonly IRangeDequantizer _dequantizer;
    private readonly Tensor _absmax;
    private readonly long _out, _in, _rowsPerBand;

    private RowBands(QuantizedTensor quantized, IRangeDequantizer dequantizer)
    {
        _quantized = quantized;
        _dequantizer = dequantizer;
        (_out, _in) = (quantized.Shape[0], quantized.Shape[1]);
        _rowsPerBand = Math.Max(1, BandElements / _in);
        _absmax = QuantizedState.Absmax(quantized); // restored once from the double quantization
    }

    /// <summary>
    /// Bands over <paramref name="quantized"/> (a layer's weight), or null when <paramref name="quantizer"/>
    /// cannot decode ranges or the rows do not hold whole blocks (then dequantize it whole).
    /// </summary>
    public static RowBands? TryCreate(QuantizedTensor quantized, IQuantizer quantizer)
    {
        if (quantizer is not IRangeDequantizer dequantizer) return null;
        bool wholeBlocks = quantized.Shape[1] % QuantStateJson.Int(quantized.QuantState, "blocksize") == 0;
        return wholeBlocks ? new RowBands(quantized, dequantizer) : null;
    }

    /// <summary>x·Wᵀ (+ bias) for <paramref name="input"/> [..., in] in its dtype.</summary>
    public Tensor Linear(Tensor input, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var rows = input.reshape(-1, _in);
        var output = empty([rows.shape[0], _out], input.dtype, input.device);
        for (long first = 0; first < _out; first += _rowsPerBand)
        {
            using var band = NewDisposeScope();
            long count = Math.Min(_rowsPerBand, _out - first);
            output.narrow(1, first, count).copy_(rows.mm(Rows(first, count, input.dtype).t()));
        }
        if (bias is not null) output.AddInPlace(bias);
        return output.view([.. input.shape[..^1], _out]).MoveToOuterDisposeScope();
    }

    /// <summary>∂y·W for <paramref name="gradOutput"/> [..., out]: the input's gradient.</summary>
    public Tensor InputGradient(Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        var rows = gradOutput.reshape(-1, _out);
        var result = zeros([rows.shape[0], _in], gradOutput.dtype, gradOutput.device);
        for (long first = 0; first < _out; first += _rowsPerBand)
        {
            using var band = NewDisposeScope();
            long count = Math.Min(_rowsPerBand, _out - first);
            result.addmm_(rows.narrow(1, first, count), Rows(first, count, gradOutput.dtype));
        }
        return result.view([.. gradOutput.shape[..^1], _in]).MoveToOuterDisposeScope();
    }

    /// <summary>Weight rows [first, first + count) in <paramref name="dtype"/>, via the original dtype as the whole-weight path.</summary>
    private Tensor Rows(long first, long count, ScalarType dtype)
    {
        var values = _dequantizer.DequantizeRange(_quantized, _absmax, first * _in, count * _in);
        return values.view(count, _in).to(_quantized.OriginalDtype).to(dtype);
    }

    /// <inheritdoc />
    public void Dispose() => _absmax.Dispose();
}
