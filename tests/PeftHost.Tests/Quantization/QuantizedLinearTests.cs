using PeftHost.Core.Peft;
using PeftHost.Quantization;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Tests.Quantization;

public class QuantizedLinearTests
{
    private static (QuantizedLinear Layer, Tensor Weight, Tensor Bias) Make(IQuantizer quantizer, ScalarType compute = ScalarType.Float32, bool doubleQuant = true)
    {
        using var g = new Generator(3);
        var weight = randn([24, 40], generator: g) * 0.1;
        var bias = randn([24], generator: g);
        var q = quantizer.Quantize(weight, new QuantizationOptions(64, doubleQuant, compute));
        var layer = (QuantizedLinear)quantizer.CreateLinear(q, bias, compute);
        return (layer, weight, bias);
    }

    [Theory]
    [InlineData("nf4")]
    [InlineData("fp4")]
    [InlineData("int8")]
    public void ForwardEqualsLinearWithTheDequantizedWeight(string type)
    {
        IQuantizer quantizer = type switch { "nf4" => new Nf4Quantizer(), "fp4" => new Fp4Quantizer(), _ => new Int8Quantizer() };
        var (layer, _, bias) = Make(quantizer, doubleQuant: type != "int8");
        using var x = randn(3, 5, 40);
        using var w = layer.ReadWeight(ScalarType.Float32);
        using var expected = F.linear(x, w, bias);
        using var y = layer.forward(x);
        Assert.True(expected.eq(y).all().item<bool>());
        Assert.Equal(ScalarType.Float32, y.dtype);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void LargeWeightsComputedByBandsOfRowsMatchTheWholeDequantizedWeight(ScalarType original)
    {
        // 1,100 × 2,048 = 2.25M weights: nine bands of 128 rows (RowBands, 256K weights a band), the last partial.
        IQuantizer quantizer = new Nf4Quantizer();
        using var g = new Generator(5);
        using var weight = (randn([1100, 2048], generator: g) * 0.02).to(original);
        using var bias = randn([1100], generator: g);
        using var q = quantizer.Quantize(weight, new QuantizationOptions(64, DoubleQuant: true, ScalarType.Float32));
        using var layer = (QuantizedLinear)quantizer.CreateLinear(q, bias, ScalarType.Float32);
        using var w = layer.ReadWeight(ScalarType.Float32); // the whole-weight dequantization

        using var x = randn([2, 7, 2048], generator: g).requires_grad_(true);
        using var y = layer.forward(x);
        using var x2 = x.detach().clone().requires_grad_(true);
        using var expected = F.linear(x2, w, bias);
        Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-5), $"max difference {(y - expected).abs().max().item<float>()}");

        using var upstream = randn([2, 7, 1100], generator: g);
        y.backward([upstream]);
        expected.backward([upstream]);
        Assert.True(x.grad!.allclose(x2.grad!, rtol: 1e-5, atol: 1e-5), $"max difference {(x.grad! - x2.grad!).abs().max().item<float>()}");

        using (no_grad())
        using (var inference = layer.forward(x.detach()))
            Assert.True(inference.allclose(expected, rtol: 1e-5, atol: 1e-5));
    }

    [Theory]
    [InlineData("nf4", 1, 64, true, 2048)]
    [InlineData("nf4", 4, 64, true, 2048)]
    [InlineData("nf4", 2, 32, false, 2048)]
    [InlineData("nf4", 1, 64, true, 1376)]    // rows of 21.5 blocks: blocks span two rows
    [InlineData("nf4", 1, 4096, true, 1376)]  // a block spans several rows
    [InlineData("fp4", 1, 128, true, 2048)]
    [InlineData("fp4", 3, 64, false, 1376)]
    public void DecodingAFewRowsFromTheCodesMatchesTheDequantizedWeight(string type, int rows, int blockSize, bool doubleQuant, int inFeatures)
    {
        // Up to four rows of float32 on the CPU are multiplied straight from the 4-bit codes (FourBitMatVec).
        IQuantizer quantizer = type == "nf4" ? new Nf4Quantizer() : new Fp4Quantizer();
        using var g = new Generator(11);
        using var weight = randn([1100, inFeatures], generator: g) * 0.02;
        using var bias = randn([1100], generator: g);
        using var q = quantizer.Quantize(weight, new QuantizationOptions(blockSize, doubleQuant, ScalarType.Float32));
        using var layer = (QuantizedLinear)quantizer.CreateLinear(q, bias, ScalarType.Float32);
        using var w = layer.ReadWeight(ScalarType.Float32);
        using var x = randn([1, rows, inFeatures], generator: g);
        using var expected = F.linear(x, w, bias);
        using (no_grad())
        using (var y = layer.forward(x))
        {
            Assert.Equal(expected.shape, y.shape);
            Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-5), $"max difference {(y - expected).abs().max().item<float>()}");
        }
        using var offsetInput = cat([zeros(1, rows, inFeatures), x], 1).narrow(1, rows, rows); // starts inside its storage
        using (no_grad())
        using (var y = layer.forward(offsetInput))
            Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-5), "an input that starts inside its storage");
    }

    [Fact]
    public void KeepsOnlyThePackedWeightAsAFrozenUint8ParameterCountedTwice()
    {
        var (layer, _, _) = Make(new Nf4Quantizer());
        var parameters = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(["bias", "weight"], parameters.Keys.Order());
        Assert.Equal(ScalarType.Byte, parameters["weight"].dtype);
        Assert.False(parameters["weight"].requires_grad);
        Assert.Equal(new long[] { 24 * 40 / 2, 1 }, parameters["weight"].shape);
        var (_, all) = ParameterCounter.Count(layer);
        Assert.Equal(24 * 40 + 24, all);
        Assert.Equal(
            ["weight.absmax", "weight.nested_absmax", "weight.nested_quant_map", "weight.quant_map", "weight.quant_state.bitsandbytes__nf4"],
            layer.named_buffers().Select(b => b.name).Order());
        Assert.DoesNotContain(layer.named_buffers(), b => b.buffer.dtype != ScalarType.Byte && b.buffer.NumberOfElements >= 24 * 40);
    }

    [Fact]
    public void WritingTheWeightKeepsEveryStateBufferPersistent()
    {
        // A re-quantizing merge writes new state; all of it must stay in the saved state dict
        // (the quant-state blob changes length with nested_offset's digits).
        var (layer, _, _) = Make(new Nf4Quantizer());
        string[] expected = ["weight.absmax", "weight.nested_absmax", "weight.nested_quant_map", "weight.quant_map", "weight.quant_state.bitsandbytes__nf4"];
        var lengths = new HashSet<long>();
        for (int i = 1; i <= 6; i++)
        {
            using (var scope = NewDisposeScope()) // as an adapter's merge step calls it
                layer.WriteWeight(randn(24, 40) * Math.Pow(10, i - 3));
            Assert.Equal(expected, layer.named_buffers(include_nonpersistent: false).Select(b => b.name).Order());
            lengths.Add(layer.named_buffers().Single(b => b.name == expected[^1]).buffer.NumberOfElements);
        }
        Assert.True(lengths.Count > 1, "the blob's length never changed: the test did not exercise a re-registered buffer");
    }

    [Fact]
    public void GradientsReachTheInputThroughTheDequantizedWeight()
    {
        var (layer, _, bias) = Make(new Nf4Quantizer());
        using var x = randn(4, 40).requires_grad_(true);
        using var y = layer.forward(x);
        using var loss = y.pow(2).sum();
        loss.backward();
        using var w = layer.ReadWeight(ScalarType.Float32);
        using var x2 = x.detach().clone().requires_grad_(true);
        using var reference = F.linear(x2, w, bias).pow(2).sum();
        reference.backward();
        Assert.True(x.grad!.allclose(x2.grad!, rtol: 1e-5, atol: 1e-6));
        Assert.Null(layer.PackedWeight.grad);
    }

    [Fact]
    public void ComputesInTheComputeDtypeAndReturnsTheInputDtype()
    {
        var (layer, _, bias) = Make(new Nf4Quantizer(), ScalarType.BFloat16);
        using var x = randn(2, 40);
        using var y = layer.forward(x);
        Assert.Equal(ScalarType.Float32, y.dtype);
        using var w = layer.ReadWeight(ScalarType.BFloat16);
        using var expected = F.linear(x.to(ScalarType.BFloat16), w, bias.to(ScalarType.BFloat16)).to(ScalarType.Float32);
        Assert.True(expected.eq(y).all().item<bool>());
    }

    [Fact]
    public void WriteWeightRequantizesThroughLinearLayers()
    {
        var (layer, weight, _) = Make(new Nf4Quantizer());
        Assert.True(LinearLayers.IsLinear(layer));
        Assert.Equal((40L, 24L), LinearLayers.Features(layer));
        using var doubled = weight * 2;
        LinearLayers.WriteWeight(layer, doubled);
        using var expectedQ = new Nf4Quantizer().Quantize(doubled, new QuantizationOptions(64, true));
        using var expected = new Nf4Quantizer().Dequantize(expectedQ, ScalarType.Float32);
        using var read = LinearLayers.ReadWeight(layer, ScalarType.Float32);
        Assert.True(expected.eq(read).all().item<bool>());
        Assert.Equal(expectedQ.QuantState.ToJsonString(), layer.QuantStateJson.ToJsonString());
    }

    [Fact]
    public void MovingToAnotherDtypeLeavesTheQuantStateAlone()
    {
        var (layer, _, _) = Make(new Nf4Quantizer(), doubleQuant: false);
        using var before = layer.ReadWeight(ScalarType.Float32);
        layer.to(ScalarType.BFloat16);
        Assert.Equal(ScalarType.Float32, layer.named_buffers().First(b => b.name == "weight.absmax").buffer.dtype);
        Assert.Equal(ScalarType.BFloat16, layer.Bias!.dtype);
        using var after = layer.ReadWeight(ScalarType.Float32);
        Assert.True(before.eq(after).all().item<bool>());
    }
}
