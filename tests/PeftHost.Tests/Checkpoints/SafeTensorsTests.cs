using System.Text;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Checkpoints;

public sealed class SafeTensorsTests
{
    [Fact]
    public void Every_dtype_round_trips_bit_for_bit()
    {
        using var dir = new TempDir();
        using var g = new Generator(11);
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = randn([3, 5], generator: g),
            ["f16"] = randn([4, 2], generator: g).to(ScalarType.Float16),
            ["bf16"] = randn([7], generator: g).to(ScalarType.BFloat16),
            ["f64"] = randn([2, 2], ScalarType.Float64, generator: g),
            ["i64"] = arange(10, ScalarType.Int64),
            ["i32"] = arange(6, ScalarType.Int32).view(2, 3),
            ["u8"] = arange(200, ScalarType.Int32).to(ScalarType.Byte),
            ["i8"] = arange(-5, 5, ScalarType.Int8),
            ["bool"] = tensor(new[] { true, false, true }),
            ["scalar"] = tensor(3.5f),
            ["empty"] = zeros([0, 4]),
        };
        SafeTensorsWriter.Write(dir["t.safetensors"], tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using var file = SafeTensorsFile.Open(dir["t.safetensors"]);
        Assert.Equal("pt", file.Metadata["format"]);
        foreach (var (name, expected) in tensors)
        {
            using var actual = file.Read(name);
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(TensorAssert.Identical(expected, actual), name);
        }
    }

    [Fact]
    public void Header_is_8_byte_aligned_and_sorted_as_the_reference_writer_does()
    {
        using var dir = new TempDir();
        SafeTensorsWriter.Write(dir["t.safetensors"], new Dictionary<string, Tensor> { ["b"] = ones(3), ["a"] = zeros(1) });
        var bytes = File.ReadAllBytes(dir["t.safetensors"]);
        long headerLength = BitConverter.ToInt64(bytes);
        Assert.Equal(0, headerLength % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.True(header.IndexOf("\"a\"", StringComparison.Ordinal) < header.IndexOf("\"b\"", StringComparison.Ordinal));
        Assert.Contains("\"data_offsets\":[0,4]", header);
    }

    [Fact]
    public void Reading_converts_to_the_requested_dtype()
    {
        using var dir = new TempDir();
        using var g = new Generator(2);
        using var source = randn([4, 4], generator: g).to(ScalarType.BFloat16);
        SafeTensorsWriter.Write(dir["t.safetensors"], new Dictionary<string, Tensor> { ["w"] = source });
        using var file = SafeTensorsFile.Open(dir["t.safetensors"]);
        using var asFloat = file.Read("w", ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, asFloat.dtype);
        Assert.True(TensorAssert.Identical(asFloat, source.to(ScalarType.Float32)));
    }

    public static TheoryData<string, string> BadHeaders => new()
    {
        { """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}""", "out of range" },
        { """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", "needs 8" },
        { """{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}""", "unsupported dtype 'Q4'" },
        { """{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", "non-negative" },
        { """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", "overlap" },
        { """{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}""", "overflows" },
        { """{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}""", "out of range" },
        { """[1,2]""", "must be a JSON object" },
        { """{"w":""", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void Damaged_headers_give_named_errors(string header, string expected)
    {
        using var dir = new TempDir();
        WriteRaw(dir["bad.safetensors"], header, dataBytes: 8);
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(dir["bad.safetensors"]));
        Assert.Contains("bad.safetensors", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_header_length_beyond_the_file_is_refused_before_allocating()
    {
        using var dir = new TempDir();
        using (var f = File.Create(dir["huge.safetensors"]))
        {
            f.Write(BitConverter.GetBytes(ulong.MaxValue - 3));
            f.Write("{}"u8);
        }
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(dir["huge.safetensors"]));
        Assert.Contains("exceeds", e.Message);
        File.WriteAllBytes(dir["tiny.safetensors"], [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(dir["tiny.safetensors"])).Message);
    }

    [Fact]
    public void Reading_into_tensors_fills_exactly_their_memory_for_every_dtype_and_layout()
    {
        // Straight reads into the tensors' memory (float32, an offset view, a tensor of several 64 MiB pieces read on
        // several threads) and the buffered path (bfloat16, which TorchSharp gives no address for) and a converting copy.
        using var dir = new TempDir();
        using var g = new Generator(5);
        var tensors = new Dictionary<string, Tensor>
        {
            ["large"] = randn([17_000_000], generator: g), // 68 MB: two pieces
            ["f32"] = randn([3, 64], generator: g),
            ["bf16"] = randn([5, 8], generator: g).to(ScalarType.BFloat16),
            ["u8"] = arange(100, ScalarType.Int32).to(ScalarType.Byte),
        };
        SafeTensorsWriter.Write(dir["t.safetensors"], tensors);
        using var file = SafeTensorsFile.Open(dir["t.safetensors"]);
        using var large = empty([17_000_000]);
        using var bf16 = empty([5, 8], ScalarType.BFloat16);
        using var u8 = zeros([100], ScalarType.Byte);
        using var converted = empty([5, 8]); // bf16 stored, float32 destination
        using var outer = full([5, 64], -7f);
        using var middle = outer.narrow(0, 1, 3); // contiguous, starts 64 floats into its storage
        SafeTensorsFile.ReadManyInto([(file, "large", large), (file, "bf16", bf16), (file, "u8", u8), (file, "bf16", converted), (file, "f32", middle)]);
        Assert.True(TensorAssert.Identical(tensors["large"], large));
        Assert.True(TensorAssert.Identical(tensors["bf16"], bf16));
        Assert.True(TensorAssert.Identical(tensors["u8"], u8));
        Assert.True(TensorAssert.Identical(tensors["bf16"].to(ScalarType.Float32), converted));
        Assert.True(TensorAssert.Identical(tensors["f32"], middle));
        Assert.True(outer[0].eq(-7).all().item<bool>() && outer[4].eq(-7).all().item<bool>(), "a read wrote outside its view");
    }

    [Fact]
    public void A_file_cut_while_it_is_open_gives_a_named_error_not_a_crash()
    {
        // Reading a mapped file past its new end would kill the process (SIGBUS); positioned reads see the end.
        using var dir = new TempDir();
        SafeTensorsWriter.Write(dir["t.safetensors"], [new("w", randn([1000]))]);
        using var file = SafeTensorsFile.Open(dir["t.safetensors"]);
        using (var f = new FileStream(dir["t.safetensors"], FileMode.Open)) f.SetLength(f.Length - 2000);
        using var w = empty([1000]);
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.ReadManyInto([(file, "w", w)]));
        Assert.Contains("tensor 'w': the file ends early", e.Message);
        Assert.Contains("t.safetensors", e.Message);
    }

    private static void WriteRaw(string path, string header, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(header);
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes((ulong)h.Length));
        f.Write(h);
        f.Write(new byte[dataBytes]);
    }
}
