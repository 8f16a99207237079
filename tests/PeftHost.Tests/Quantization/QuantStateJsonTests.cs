using System.Text;
using PeftHost.Quantization;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Tests.Quantization;

public class QuantStateJsonTests
{
    [Theory]
    [InlineData(0.1f, "0.10000000149011612")]
    [InlineData(1e-5f, "9.999999747378752e-06")]
    [InlineData(0.0f, "0.0")]
    [InlineData(2.0f, "2.0")]
    public void FloatsArePrintedAsPythonsRepr(float value, string expected) => Assert.Equal(expected, PythonFloat.Repr(value));

    [Theory]
    [InlineData(1e-05, "1e-05")]
    [InlineData(1.5e-07, "1.5e-07")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1234567890123456.0, "1234567890123456.0")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(123.0, "123.0")]
    [InlineData(-0.5, "-0.5")]
    [InlineData(6.02e23, "6.02e+23")]
    [InlineData(0.1, "0.1")]
    public void DoublesArePrintedAsPythonsRepr(double value, string expected) => Assert.Equal(expected, PythonFloat.Repr(value));

    [Fact]
    public void BlobWithoutNestingIsJsonDumpsOfTheDictBytes()
    {
        var state = QuantStateJson.Create("nf4", 64, ScalarType.Float32, [32, 64], null);
        using var blob = QuantStateJson.Pack(state);
        const string expected = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [32, 64]}";
        Assert.Equal(Encoding.UTF8.GetBytes(expected), blob.data<byte>().ToArray());
        Assert.Equal(1, blob.dim());
        Assert.Equal(ScalarType.Byte, blob.dtype);
    }

    [Fact]
    public void NestedBlobHasBitsandbytesKeyOrderAndTheOffsetAsAPythonFloat()
    {
        var state = QuantStateJson.Create("fp4", 128, ScalarType.BFloat16, [4096, 11008], 0.1f);
        using var blob = QuantStateJson.Pack(state);
        const string expected = "{\"quant_type\": \"fp4\", \"blocksize\": 128, \"dtype\": \"bfloat16\", \"shape\": [4096, 11008], " +
            "\"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.10000000149011612}";
        Assert.Equal(expected, Encoding.UTF8.GetString(blob.data<byte>().ToArray()));
        // Read back (as from a file) and written again: the same bytes.
        var parsed = QuantStateJson.Unpack(blob);
        using var again = QuantStateJson.Pack(parsed);
        Assert.Equal(blob.data<byte>().ToArray(), again.data<byte>().ToArray());
    }

    [Fact]
    public void QuantizerStoresTheBlobUnderBitsandbytesKey()
    {
        using var q = new Nf4Quantizer().Quantize(randn(32, 64), new QuantizationOptions(64, DoubleQuant: true));
        Assert.Equal(["absmax", "nested_absmax", "nested_quant_map", "quant_map", "quant_state.bitsandbytes__nf4"], q.State.Keys.Order());
        string json = Encoding.UTF8.GetString(q.State["quant_state.bitsandbytes__nf4"].data<byte>().ToArray());
        Assert.StartsWith("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [32, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": ", json);
        Assert.Equal(PythonFloat.Repr(q.QuantState["nested_offset"]!.GetValue<double>()), json[(json.LastIndexOf(": ") + 2)..^1]);
    }
}
