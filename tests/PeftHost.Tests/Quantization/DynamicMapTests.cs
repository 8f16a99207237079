using PeftHost.Core.Quantization.Codecs;

namespace PeftHost.Tests.Quantization;

public class DynamicMapTests
{
    [Fact]
    public void SignedMapHas256SortedValuesSymmetricAroundZeroWithOneAtTheTop()
    {
        var map = DynamicMap.Values(signed: true);
        Assert.Equal(256, map.Length);
        for (int i = 1; i < 256; i++) Assert.True(map[i - 1] < map[i], $"not increasing at {i}");
        Assert.Equal(0f, map[127]);
        Assert.Equal(1f, map[255]);
        for (int i = 0; i < 127; i++) Assert.Equal(-map[254 - i], map[i]);
    }

    [Fact]
    public void SignedMapKnownValues()
    {
        var map = DynamicMap.Values(signed: true);
        // i = 6: the last midpoint of linspace(0.1, 1, 65) is (0.9859375 + 1) / 2.
        Assert.Equal(0.99296875, map[254], 6);
        Assert.Equal(-0.99296875, map[0], 6);
        // i = 0: linspace(0.1, 1, 2) has the single midpoint 0.55, times 1e-6.
        Assert.Equal(5.5e-7, map[128], 12);
        Assert.Equal(-5.5e-7, map[126], 12);
        // i = 1: midpoints 0.325 and 0.775 of linspace(0.1, 1, 3), times 1e-5.
        Assert.Equal(3.25e-6, map[129], 11);
        Assert.Equal(7.75e-6, map[130], 11);
    }

    [Fact]
    public void UnsignedMapIsNonNegativeSortedFromZeroToOne()
    {
        var map = DynamicMap.Values(signed: false);
        Assert.Equal(256, map.Length);
        Assert.Equal(0f, map[0]);
        Assert.Equal(1f, map[255]);
        for (int i = 1; i < 256; i++) Assert.True(map[i - 1] < map[i]);
        Assert.Equal(3.25e-7, map[1], 12); // i = 0: midpoints of linspace(0.1, 1, 3) times 1e-6
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MapEqualsPyTorchsFloat32ArithmeticBitForBit(bool signed)
    {
        var expected = BnbReference.DynamicMap(signed).Select(BitConverter.SingleToInt32Bits).ToArray();
        var actual = DynamicMap.Values(signed).Select(BitConverter.SingleToInt32Bits).ToArray();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void CodebookSearchMatchesTheCudaBinarySearchEverywhere()
    {
        foreach (bool signed in new[] { true, false })
        {
            var code = DynamicMap.Values(signed);
            var search = new CodebookSearch(code);
            // Every code value, every midpoint and their float neighbours, plus out-of-range values.
            var probes = new List<float> { -2f, -1f, 1f, 2f, 0f, -0f, float.NaN, 1e-9f, -1e-9f };
            for (int j = 0; j < 256; j++) probes.AddRange([code[j], MathF.BitIncrement(code[j]), MathF.BitDecrement(code[j])]);
            for (int j = 0; j < 255; j++)
            {
                float m = (code[j] + code[j + 1]) * 0.5f;
                probes.AddRange([m, MathF.BitIncrement(m), MathF.BitDecrement(m)]);
            }
            using var encoded = search.Encode(TorchSharp.torch.tensor(probes.ToArray()));
            var actual = encoded.data<byte>().ToArray();
            for (int i = 0; i < probes.Count; i++)
                Assert.True(BnbReference.DQuantize(code, probes[i]) == actual[i], $"signed={signed} x={probes[i]:R}: expected {BnbReference.DQuantize(code, probes[i])}, got {actual[i]}");
        }
    }
}
