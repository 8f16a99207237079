using PeftHost.Quantization;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Tests.Quantization;

public class FourBitQuantizationTests
{
    private static float[] Input(int n, params (int Index, float Value)[] overrides)
    {
        var x = Enumerable.Range(0, n).Select(i => BnbReference.Wave(i) * (1 + i % 7)).ToArray();
        foreach (var (i, v) in overrides) x[i] = v;
        return x;
    }

    private static byte[] Bytes(Tensor t) => t.contiguous().data<byte>().ToArray();

    private static float[] Floats(Tensor t) => t.to(ScalarType.Float32).contiguous().data<float>().ToArray();

    public static TheoryData<int, int> Shapes => new()
    {
        { 64 * 4, 64 },      // whole blocks
        { 64 * 2 + 37, 64 }, // partial last block, odd length
        { 129, 32 },
        { 1001, 128 },
        { 7, 64 },           // a single partial block, odd
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Nf4PackedBytesAndAbsmaxMatchTheReference(int n, int blockSize)
    {
        var x = Input(n);
        if (n > 2 * blockSize) for (int i = blockSize; i < 2 * blockSize; i++) x[i] = 0f; // a zero block
        var (expectedPacked, expectedAbsmax) = BnbReference.Quantize4Bit(x, blockSize, BnbReference.Nf4Index);

        using var q = new Nf4Quantizer().Quantize(tensor(x), new QuantizationOptions(blockSize, DoubleQuant: false));
        Assert.Equal(new long[] { (n + 1) / 2, 1 }, q.Data.shape);
        Assert.Equal(ScalarType.Byte, q.Data.dtype);
        Assert.Equal(expectedPacked, Bytes(q.Data));
        Assert.Equal(expectedAbsmax, Floats(q.State["absmax"]));
        Assert.Equal(BnbReference.Nf4, Floats(q.State["quant_map"]));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fp4PackedBytesAndAbsmaxMatchTheReference(int n, int blockSize)
    {
        var x = Input(n);
        if (n > 2 * blockSize) for (int i = blockSize; i < 2 * blockSize; i++) x[i] = 0f;
        var (expectedPacked, expectedAbsmax) = BnbReference.Quantize4Bit(x, blockSize, BnbReference.Fp4Index);

        using var q = new Fp4Quantizer().Quantize(tensor(x), new QuantizationOptions(blockSize, DoubleQuant: false));
        Assert.Equal(expectedPacked, Bytes(q.Data));
        Assert.Equal(expectedAbsmax, Floats(q.State["absmax"]));
        Assert.Equal(BnbReference.Fp4Map().Select(BitConverter.SingleToInt32Bits), Floats(q.State["quant_map"]).Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Nf4EncodingEqualsTheScalarArgminAroundEveryBoundaryAndCellEdge()
    {
        // The table lookup's risky places: each decision boundary and each table cell edge, ±8 ulps;
        // plus random values, the ends, signed zeros and NaN. The reference is the plain argmin.
        var values = new List<float>();
        var random = new Random(5);
        for (int i = 0; i < 200_000; i++) values.Add((float)(random.NextDouble() * 2.02 - 1.01));
        var edges = Nf4Code.Instance.Boundaries.Concat(Enumerable.Range(0, 1025).Select(c => -1f + c * 2f / 1024))
            .Concat(BnbReference.Nf4);
        foreach (float edge in edges)
        {
            float v = edge;
            for (int k = 0; k < 8; k++) v = MathF.BitDecrement(v);
            for (int k = 0; k < 17; k++, v = MathF.BitIncrement(v)) values.Add(v);
        }
        values.AddRange([0f, -0f, float.NaN, 1.5f, -1.5f]);
        using var codes = Nf4Code.Instance.Encode(tensor(values.ToArray()));
        var got = codes.data<byte>().ToArray();
        var mismatches = Enumerable.Range(0, values.Count).Where(i => got[i] != BnbReference.Nf4Index(values[i])).ToList();
        Assert.True(mismatches.Count == 0,
            $"{mismatches.Count} codes differ, e.g. {string.Join(", ", mismatches.Take(5).Select(i => $"{values[i]:R} → {got[i]} (expected {BnbReference.Nf4Index(values[i])})"))}");
    }

    [Fact]
    public void Nf4TiesGoToTheLowerIndex()
    {
        // Block absmax 1 makes scaled == x. c7 = 0, c8 = 0.0796: c8/2 is exactly halfway.
        float c8 = BnbReference.Nf4[8];
        var x = new float[64];
        x[0] = 1f;
        x[1] = c8 / 2;                              // tie between code 7 and 8 → 7
        x[2] = MathF.BitIncrement(c8 / 2);          // just above → 8
        x[3] = -1f;                                 // code 0
        x[4] = (BnbReference.Nf4[11] + BnbReference.Nf4[12]) / 2; // near-tie in float arithmetic
        x[5] = MathF.BitIncrement(x[4]);
        x[6] = MathF.BitDecrement(x[4]);
        var (expected, _) = BnbReference.Quantize4Bit(x, 64, BnbReference.Nf4Index);
        using var q = new Nf4Quantizer().Quantize(tensor(x), new QuantizationOptions(64, DoubleQuant: false));
        var packed = Bytes(q.Data);
        Assert.Equal(expected, packed);
        Assert.Equal(0x7, packed[0] & 0xF);   // x[1]: the tie
        Assert.Equal(0x8, packed[1] >> 4);    // x[2]
    }

    [Fact]
    public void Fp4SignBitComesFromXBelowZeroIncludingNegativeZeroCodes()
    {
        var x = new float[64];
        x[0] = 1f;           // 0b0011
        x[1] = -0.001f;      // tiny negative: magnitude 0, sign set → 8 ("−0")
        x[2] = -0f;          // −0 is not < 0 → 0
        x[3] = 0.0859375f;   // exactly a threshold: the smaller magnitude (1)
        x[4] = -0.0859375f;  // 8 + 1
        x[5] = -1f;          // 8 + 3
        x[6] = 0.5f;         // 0b101
        x[7] = -0.25f;       // 8 + 0b111
        using var q = new Fp4Quantizer().Quantize(tensor(x), new QuantizationOptions(64, DoubleQuant: false));
        var packed = Bytes(q.Data);
        Assert.Equal(new byte[] { 0x38, 0x01, 0x9B, 0x5F }, packed[..4]);
        var (expected, _) = BnbReference.Quantize4Bit(x, 64, BnbReference.Fp4Index);
        Assert.Equal(expected, packed);

        using var back = new Fp4Quantizer().Dequantize(q, ScalarType.Float32);
        var values = Floats(back);
        Assert.True(values[1] == 0 && float.IsNegative(values[1]), "code 8 dequantizes to −0");
        Assert.False(float.IsNegative(values[2]));
    }

    [Theory]
    [InlineData("nf4", 0.3038072f)]   // largest NF4 gap: −0.6961928 − (−1)
    [InlineData("fp4", 1f / 3f)]      // largest FP4 gap: 12/12 − 8/12
    public void DequantizationErrorIsWithinHalfTheLargestCodeGapTimesAbsmax(string type, float largestGap)
    {
        IQuantizer quantizer = type == "nf4" ? new Nf4Quantizer() : new Fp4Quantizer();
        using var g = new Generator(11);
        using var w = randn([48, 100], generator: g);
        foreach (bool doubleQuant in new[] { false, true })
        {
            using var q = quantizer.Quantize(w, new QuantizationOptions(64, doubleQuant));
            using var back = quantizer.Dequantize(q, ScalarType.Float32);
            Assert.Equal(w.shape, back.shape);
            var (absmax, _) = BnbReference.Scale(Floats(w.reshape(-1)), 64);
            using var restoredTensor = QuantizedState.Absmax(q);
            var restored = Floats(restoredTensor);
            var x = Floats(w.reshape(-1));
            var y = Floats(back.reshape(-1));
            for (int i = 0; i < x.Length; i++)
            {
                // Codes are chosen with the true absmax; double quantization then stores an approximation of it.
                float a = absmax[i / 64];
                float bound = a * (largestGap / 2) * 1.0001f + MathF.Abs(a - restored[i / 64]) + 1e-6f;
                Assert.True(MathF.Abs(x[i] - y[i]) <= bound, $"{type} dq={doubleQuant} element {i}: {x[i]} → {y[i]} (bound {bound})");
            }
        }
    }

    [Fact]
    public void DequantizeIsQuantMapTimesAbsmaxAndHandlesZeroBlocks()
    {
        var x = Input(200);
        for (int i = 64; i < 128; i++) x[i] = 0f;
        var quantizer = new Nf4Quantizer();
        using var q = quantizer.Quantize(tensor(x), new QuantizationOptions(64, DoubleQuant: false));
        using var back = quantizer.Dequantize(q, ScalarType.Float32);
        var packed = Bytes(q.Data);
        var absmax = Floats(q.State["absmax"]);
        var y = Floats(back);
        for (int i = 0; i < x.Length; i++)
        {
            int code = i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 0xF;
            Assert.Equal(BnbReference.Nf4[code] * absmax[i / 64], y[i]);
        }
        Assert.All(y[64..128], v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Nf4ArgminDiffersFromTheCudaDecisionTreeOnFourSingleFloatsOnly()
    {
        // bitsandbytes' CUDA kernel (dQuantizeNF4) compares x > t with these float thresholds;
        // torch's argmin rule (followed here, as the CPU backend does) puts 4 of the 15 cuts one ulp lower:
        // exactly one float32 value of x·(1/absmax) per such cut gets the upper code instead of the lower.
        float[] tree = [-0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f, -0.23460740596055984f,
            -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f, 0.1202552504837513f, 0.2035212516784668f,
            0.2920137718319893f, 0.3893125355243683f, 0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f];
        var boundaries = Nf4Code.Instance.Boundaries;
        var differing = Enumerable.Range(0, 15).Where(i => boundaries[i] != tree[i]).ToArray();
        Assert.Equal([1, 3, 4, 8], differing);
        foreach (int i in differing)
        {
            Assert.Equal(tree[i], MathF.BitIncrement(boundaries[i]));
            Assert.Equal(i + 1, BnbReference.Nf4Index(tree[i])); // argmin: upper code; the tree (x > t false) keeps code i
        }
    }

    [Theory]
    [InlineData(16)]
    [InlineData(100)]
    [InlineData(8192)]
    [InlineData(0)]
    public void BlockSizesOutsidePowersOfTwoFrom32To4096AreRefused(int blockSize)
    {
        var e = Assert.Throws<ConfigException>(() => new Nf4Quantizer().Quantize(ones(128), new QuantizationOptions(blockSize)));
        Assert.Equal("blockSize", e.Key);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(4096)]
    public void BlockSizesAtTheLimitsAreAccepted(int blockSize)
    {
        using var q = new Nf4Quantizer().Quantize(ones(8192), new QuantizationOptions(blockSize));
        Assert.Equal(8192 / blockSize, q.State["absmax"].shape[0]);
    }

    [Fact]
    public void Bf16WeightsKeepTheirDtypeInTheQuantState()
    {
        using var w = randn(16, 64).to(ScalarType.BFloat16);
        var quantizer = new Nf4Quantizer();
        using var q = quantizer.Quantize(w, new QuantizationOptions());
        Assert.Equal(ScalarType.BFloat16, q.OriginalDtype);
        Assert.Equal("bfloat16", q.QuantState["dtype"]!.GetValue<string>());
        using var back = quantizer.Dequantize(q, ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, back.dtype);
    }
}
