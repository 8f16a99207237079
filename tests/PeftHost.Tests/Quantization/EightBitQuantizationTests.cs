using PeftHost.Core.Quantization.Codecs;
using PeftHost.Quantization;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Tests.Quantization;

public class EightBitQuantizationTests
{
    [Theory]
    [InlineData(256 * 3, 256)]
    [InlineData(1000, 256)]
    [InlineData(333, 64)]
    public void Int8CodesAndAbsmaxMatchTheReference(int n, int blockSize)
    {
        var x = Enumerable.Range(0, n).Select(i => BnbReference.Wave(i) * (i % 5 + 1)).ToArray();
        for (int i = 0; i < Math.Min(n, blockSize); i++) x[i] = 0f; // a zero block: codes 0, absmax 0
        var code = DynamicMap.Values(signed: true);
        var (expectedCodes, expectedAbsmax) = BnbReference.Quantize8Bit(x, blockSize, code);

        var quantizer = new Int8Quantizer();
        using var q = quantizer.Quantize(tensor(x).view(1, n), new QuantizationOptions(blockSize, DoubleQuant: false));
        Assert.Equal(new long[] { 1, n }, q.Data.shape);
        Assert.Equal(expectedCodes, q.Data.reshape(-1).data<byte>().ToArray());
        Assert.Equal(expectedAbsmax, q.State["absmax"].data<float>().ToArray());

        using var back = quantizer.Dequantize(q, ScalarType.Float32);
        var y = back.reshape(-1).data<float>().ToArray();
        for (int i = 0; i < n; i++) Assert.Equal(code[expectedCodes[i]] * expectedAbsmax[i / blockSize], y[i]);
    }

    [Fact]
    public void DoubleQuantizationOfAbsmaxMatchesTheReference()
    {
        // 700 blocks of 64: absmax has 700 values → 3 nested blocks of 256, the last partial.
        int blocks = 700, blockSize = 64;
        var x = Enumerable.Range(0, blocks * blockSize).Select(i => BnbReference.Wave(i) * (1 + (i / blockSize) % 13)).ToArray();
        var (absmax, _) = BnbReference.Scale(x, blockSize);

        using var q = new Nf4Quantizer().Quantize(tensor(x), new QuantizationOptions(blockSize, DoubleQuant: true));
        // offset = mean(absmax); torch's float32 reduction order may differ from a double sum by an ulp,
        // so the reference takes the stored offset after checking it against the exact mean.
        float offset = (float)q.QuantState["nested_offset"]!.GetValue<double>();
        double exactMean = absmax.Select(a => (double)a).Average();
        Assert.True(Math.Abs(offset - exactMean) <= 1e-6 * Math.Abs(exactMean), $"offset {offset} vs mean {exactMean}");

        var centered = absmax.Select(a => a - offset).ToArray();
        var (expectedCodes, expectedNested) = BnbReference.Quantize8Bit(centered, 256, DynamicMap.Values(signed: true));
        Assert.Equal(ScalarType.Byte, q.State["absmax"].dtype);
        Assert.Equal(expectedCodes, q.State["absmax"].data<byte>().ToArray());
        Assert.Equal(expectedNested, q.State["nested_absmax"].data<float>().ToArray());
        Assert.Equal(DynamicMap.Values(signed: true), q.State["nested_quant_map"].data<float>().ToArray());

        // Restored absmax = map[q] · nested + offset, in float32.
        using var restored = QuantizedState.Absmax(q);
        var r = restored.data<float>().ToArray();
        var map = DynamicMap.Values(signed: true);
        for (int b = 0; b < blocks; b++)
            Assert.Equal(map[expectedCodes[b]] * expectedNested[b / 256] + offset, r[b]);
    }

    [Fact]
    public void Int8LinearCountsItsCodesOncePerElement()
    {
        using var w = randn(8, 64);
        var quantizer = new Int8Quantizer();
        var q = quantizer.Quantize(w, new QuantizationOptions(64, DoubleQuant: false));
        using var layer = (QuantizedLinear)quantizer.CreateLinear(q, null, ScalarType.Float32);
        Assert.Equal(ScalarType.Int8, layer.PackedWeight.dtype);
        var (_, all) = PeftHost.Core.Peft.ParameterCounter.Count(layer);
        Assert.Equal(8 * 64, all);
        using var expected = quantizer.Dequantize(q, ScalarType.Float32);
        using var read = layer.ReadWeight(ScalarType.Float32);
        Assert.True(expected.eq(read).all().item<bool>());
    }
}
