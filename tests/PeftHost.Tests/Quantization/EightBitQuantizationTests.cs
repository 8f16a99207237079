using PeftHost.Core.Quantization.Codecs;
using PeftHost.Quantization;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Tests.Quantization;

public class EightBitQuantizationTests
{
    [Fact]
    public void Int8IsLlmInt8RowWiseAsBitsandbytesQuantizesIt()
    {
        // int8_vectorwise_quant: SCB = max|row|, codes = round(w · (127 / SCB)) (half to even);
        // int8_vectorwise_dequant: codes · (SCB · 7.874015718698502e-3). Row 0 is all zeros.
        int rows = 5, cols = 37;
        var w = new float[rows * cols];
        for (int i = cols; i < w.Length; i++) w[i] = BnbReference.Wave(i) * (i / cols);
        var quantizer = new Int8Quantizer();
        using var q = quantizer.Quantize(tensor(w).view(rows, cols), new QuantizationOptions(DoubleQuant: false));
        Assert.Equal(ScalarType.Int8, q.Data.dtype);
        Assert.Equal(new long[] { rows, cols }, q.Data.shape);
        var scb = q.State["SCB"].data<float>().ToArray();
        var codes = q.Data.to(ScalarType.Int32).data<int>().ToArray();
        Assert.Equal(0, (int)q.State["weight_format"].item<byte>());
        for (int r = 0; r < rows; r++)
        {
            float expectedScale = w.Skip(r * cols).Take(cols).Select(MathF.Abs).Max();
            Assert.Equal(expectedScale, scb[r]);
            float factor = expectedScale == 0 ? 0 : 127f / expectedScale;
            for (int c = 0; c < cols; c++)
                Assert.Equal((int)MathF.Round(w[r * cols + c] * factor, MidpointRounding.ToEven), codes[r * cols + c]);
        }
        using var back = quantizer.Dequantize(q, ScalarType.Float32);
        var y = back.data<float>().ToArray();
        for (int i = 0; i < w.Length; i++) Assert.Equal(codes[i] * (scb[i / cols] * 7.874015718698502e-3f), y[i]);
    }

    [Fact]
    public void Int8RefusesDoubleQuantizationNamingTheOption()
    {
        var e = Assert.Throws<ConfigException>(() => new Int8Quantizer().Quantize(randn(4, 8), new QuantizationOptions(DoubleQuant: true)));
        Assert.Equal("doubleQuant", e.Key);
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
