using System.Buffers.Binary;
using System.Text.Json.Nodes;
using PeftHost.Core.Import;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Reliability.Fuzzing;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Parsers;

/// <summary>
/// Model files whose numbers lie: a config.json or a llama2.c header asking for far more than the
/// weights hold must be refused before anything of that size is allocated.
/// </summary>
public sealed class ModelFileAttackTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("num_hidden_layers", 2_000_006L, "num_hidden_layers = 2000006, but the checkpoint holds 2 layers")]
    [InlineData("hidden_size", 1_073_741_824L, "hidden_size = 1073741824 exceeds every tensor dimension in the checkpoint")]
    [InlineData("intermediate_size", 2_147_483_647L, "intermediate_size = 2147483647 exceeds every tensor dimension")]
    [InlineData("vocab_size", 1_000_000_000L, "vocab_size = 1000000000 exceeds every tensor dimension")]
    [InlineData("head_dim", 1_073_741_824L, "num_attention_heads × head_dim = 4294967296 exceeds every tensor dimension")]
    [InlineData("num_key_value_heads", 4L, "model.layers.0.self_attn.k_proj.weight' has shape [16, 32] in the checkpoint but the model expects [32, 32]")]
    public void A_config_json_the_weights_cannot_fill_is_refused_before_allocating(string key, long value, string expected)
    {
        string folder = _dir["model"];
        Seeds.WriteTinyModel(folder);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
        config[key] = value;
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());

        var e = Bounded.Throws<ModelFormatException>(() => ModelLoader.Load(folder).Dispose(), TimeSpan.FromSeconds(20), maxPeakGrowthMiB: 64);
        Assert.StartsWith(folder, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_llama2c_header_whose_size_wraps_around_to_the_file_size_is_refused()
    {
        // dim 2^22, hidden 5,592,404, 32,768 layers, vocab and context 32,768: the byte count the header
        // implies is 2^64 + 2^24 + 28, which 64-bit arithmetic wraps to exactly this file's size.
        int[] header = [4_194_304, 5_592_404, 32_768, 1, 1, 32_768, 32_768];
        string path = _dir["wrap.bin"];
        using (var file = File.Create(path))
        {
            var bytes = new byte[28];
            for (int i = 0; i < 7; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), header[i]);
            file.Write(bytes);
            file.SetLength(28 + (1L << 24)); // sparse: 16 MiB of zeros
        }

        var e = Bounded.Throws<ModelFormatException>(() => Llama2cCheckpoint.Read(path), TimeSpan.FromSeconds(20), maxPeakGrowthMiB: 64);
        Assert.StartsWith(path, e.Message);
        Assert.Contains("the header describes a model of more than", e.Message);
    }

    [Fact]
    public void A_llama2c_model_too_small_for_its_tokenizer_is_refused_naming_the_tokenizer_and_nothing_is_written()
    {
        string model = _dir["tiny.bin"];
        File.WriteAllBytes(model, Seeds.Llama2cModel([8, 16, 1, 2, 1, 32, 8])); // vocab 32 < 259
        string tokenizer = TestPaths.Fixture("llama2c", "tok512.bin");
        string output = _dir["imported"];

        var e = Assert.Throws<TokenizerFormatException>(() => Llama2cImporter.Import(model, tokenizer, output));
        Assert.StartsWith(tokenizer, e.Message);
        Assert.Contains("a vocabulary of 32 tokens was asked for, but a llama2.c tokenizer holds at least 259", e.Message);
        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.GetDirectories(_dir.Path, ".imported*")); // no staging folder left behind
    }

    [Fact]
    public void A_llama2c_tokenizer_with_a_repeated_piece_is_refused_naming_the_source_file()
    {
        var bytes = Seeds.Llama2cTokenizer();
        // Find two normal tokens of the same byte length and copy the first's text over the second.
        var tokens = new List<(int Offset, int Length)>();
        for (int offset = 4; offset < bytes.Length;)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 4));
            tokens.Add((offset + 8, length));
            offset += 8 + length;
        }
        var (first, second) = tokens.Skip(259).Select((t, i) => (t, i))
            .SelectMany(a => tokens.Skip(260 + a.i).Where(b => b.Length == a.t.Length).Take(1).Select(b => (a.t, b)))
            .First();
        bytes.AsSpan(first.Offset, first.Length).CopyTo(bytes.AsSpan(second.Offset));
        string path = _dir["tok512.bin"];
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<TokenizerFormatException>(() => Llama2cTokenizerConverter.Convert(path, 512, _dir["tokenizer"]));
        Assert.StartsWith(path, e.Message);
        Assert.Contains("SentencePiece pieces must be unique", e.Message);
        Assert.False(File.Exists(Path.Combine(_dir["tokenizer"], "tokenizer.model")));
    }
}
