using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using PeftHost.Core.Tokenization;
using PeftHost.Sdk;
using Xunit;

namespace PeftHost.Tests.Tokenization;

/// <summary>The stories260K tokenizer converted once and loaded back, shared by the tests.</summary>
public sealed class ConvertedLlama2cTokenizer : IDisposable
{
    private readonly TempFolder _folder = new();

    public ConvertedLlama2cTokenizer()
    {
        Llama2cTokenizerConverter.Convert(TokenizerTestFiles.TokBin, TokenizerTestFiles.TokBinVocabSize, _folder.Path, modelMaxLength: 512);
        Tokenizer = TokenizerLoader.Load(_folder.Path);
    }

    public string Folder => _folder.Path;
    public TextTokenizer Tokenizer { get; }

    public void Dispose() => _folder.Dispose();
}

public sealed class Llama2cTokenizerConverterTests(ConvertedLlama2cTokenizer converted) : IClassFixture<ConvertedLlama2cTokenizer>
{
    /// <summary>Greedy decoding of the real stories260K model from BOS (reference_greedy.json).</summary>
    private static readonly int[] GreedyIds =
    [
        1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408,
        419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338,
        391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438,
    ];

    private TextTokenizer Tokenizer => converted.Tokenizer;

    [Fact]
    public void Greedy_ids_of_the_real_model_decode_to_the_documented_story()
    {
        var text = Tokenizer.Decode(GreedyIds);

        Assert.StartsWith(
            "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.",
            text);
    }

    [Fact]
    public void Encoding_the_decoded_story_gives_the_model_ids_back()
    {
        var text = Tokenizer.Decode(GreedyIds);

        Assert.Equal(GreedyIds, Tokenizer.Encode(text));
    }

    [Fact]
    public void Loaded_folder_is_a_sentencepiece_tokenizer_with_llama_specials()
    {
        Assert.Equal(TokenizerKinds.SentencePiece, Tokenizer.Kind);
        Assert.Equal(512, Tokenizer.VocabSize);
        Assert.Equal(1, Tokenizer.BosTokenId);
        Assert.Equal([2], Tokenizer.EosTokenIds);
        Assert.Null(Tokenizer.PadTokenId);
        Assert.True(Tokenizer.AddBosToken);
        Assert.Equal(new HashSet<int> { 0, 1, 2 }, Tokenizer.SpecialTokenIds);
    }

    [Theory]
    [MemberData(nameof(Sentences))]
    public void Encode_then_decode_gives_the_text_back(string sentence)
    {
        var ids = Tokenizer.Encode(sentence);

        Assert.Equal(1, ids[0]);
        Assert.Equal(sentence, Tokenizer.Decode(ids));
    }

    public static TheoryData<string> Sentences() => new(TokenizerTestFiles.Sentences);

    [Fact]
    public void Characters_outside_the_vocabulary_fall_back_to_utf8_bytes()
    {
        var ids = Tokenizer.Encode("☃", addBos: false);

        // "▁" is a piece; ☃ is E2 98 83, the byte pieces <0xE2> <0x98> <0x83> at 3 + byte.
        Assert.Equal([3 + 0xE2, 3 + 0x98, 3 + 0x83], ids.Skip(ids.Count - 3));
        Assert.Equal("☃", Tokenizer.Decode(ids));
    }

    [Fact]
    public void Bos_is_added_by_default_and_on_request_only()
    {
        var withBos = Tokenizer.Encode("Lily");
        var without = Tokenizer.Encode("Lily", addBos: false);
        var asEncoder = ((ITextEncoder)Tokenizer).Encode("Lily");

        Assert.Equal([1, .. without], withBos);
        Assert.DoesNotContain(1, without);
        Assert.Equal(without, asEncoder);
        Assert.DoesNotContain(2, withBos);
    }

    [Fact]
    public void Decode_skips_special_tokens_unless_asked_to_keep_them()
    {
        int[] ids = [1, .. Tokenizer.Encode("Lily", addBos: false), 2];

        Assert.Equal("Lily", Tokenizer.Decode(ids));
        var kept = Tokenizer.Decode(ids, skipSpecialTokens: false);
        Assert.Contains("<s>", kept);
        Assert.Contains("Lily", kept);
        Assert.Contains("</s>", kept);
    }

    [Fact]
    public void Convert_writes_hugging_face_config_files()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(converted.Folder, "tokenizer_config.json")))!;
        var map = JsonNode.Parse(File.ReadAllText(Path.Combine(converted.Folder, "special_tokens_map.json")))!;

        Assert.Equal("<s>", (string?)config["bos_token"]);
        Assert.Equal("</s>", (string?)config["eos_token"]);
        Assert.Equal("<unk>", (string?)config["unk_token"]);
        Assert.True((bool)config["add_bos_token"]!);
        Assert.False((bool)config["add_eos_token"]!);
        Assert.Equal(512, (int)config["model_max_length"]!);
        Assert.Equal("LlamaTokenizer", (string?)config["tokenizer_class"]);
        Assert.Equal("<s>", (string?)config["added_tokens_decoder"]!["1"]!["content"]);
        Assert.Equal("</s>", (string?)map["eos_token"]);
        Assert.Equal(["special_tokens_map.json", "tokenizer.model", "tokenizer_config.json"],
            Directory.GetFiles(converted.Folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Model_proto_in_memory_matches_the_written_file()
    {
        var inMemory = Llama2cTokenizerConverter.BuildModelProto(File.ReadAllBytes(TokenizerTestFiles.TokBin), 512, "tok512.bin");

        Assert.Equal(File.ReadAllBytes(Path.Combine(converted.Folder, "tokenizer.model")), inMemory);
    }

    [Fact]
    public void Pieces_are_typed_and_spaces_become_the_sentencepiece_symbol()
    {
        var pieces = Llama2cTokenizerConverter.ReadPieces(File.ReadAllBytes(TokenizerTestFiles.TokBin), 512, "tok512.bin");

        Assert.Equal(new SentencePiece("<unk>", 0, SentencePieceType.Unknown), pieces[0]);
        Assert.Equal(new SentencePiece("<s>", 0, SentencePieceType.Control), pieces[1]);
        Assert.Equal(new SentencePiece("</s>", 0, SentencePieceType.Control), pieces[2]);
        Assert.Equal(new SentencePiece("<0x00>", 0, SentencePieceType.Byte), pieces[3]);
        Assert.Equal(new SentencePiece("<0xFF>", 0, SentencePieceType.Byte), pieces[258]);
        Assert.Equal(new SentencePiece("▁t", 0, SentencePieceType.Normal), pieces[259]);
        Assert.Equal(new SentencePiece("he", -1, SentencePieceType.Normal), pieces[260]);
        Assert.DoesNotContain(pieces, p => p.Piece.Contains(' '));
    }

    [Fact]
    public void Convert_replaces_existing_files_and_leaves_no_temporary_files()
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.model", "stale");

        Llama2cTokenizerConverter.Convert(TokenizerTestFiles.TokBin, 512, folder.Path);
        Llama2cTokenizerConverter.Convert(TokenizerTestFiles.TokBin, 512, folder.Path);

        Assert.Equal(3, Directory.GetFiles(folder.Path).Length);
        Assert.Equal(File.ReadAllBytes(Path.Combine(converted.Folder, "tokenizer.model")), File.ReadAllBytes(folder.File("tokenizer.model")));
    }

    [Fact]
    public void Truncated_file_is_refused_naming_the_file_and_token()
    {
        using var folder = new TempFolder();
        var bytes = File.ReadAllBytes(TokenizerTestFiles.TokBin);
        var path = folder.Write("tok512.bin", bytes[..(bytes.Length - 3)]);

        var error = Assert.Throws<TokenizerFormatException>(() => Llama2cTokenizerConverter.Convert(path, 512, folder.File("out")));

        Assert.StartsWith(path, error.Message);
        Assert.Contains("token 511", error.Message);
        Assert.False(Directory.Exists(folder.File("out")));
    }

    [Theory]
    [InlineData(-1, "length -1")]
    [InlineData(0, "length 0")]
    [InlineData(8, "length 8")]
    public void Lengths_out_of_range_are_refused(int length, string expected)
    {
        using var folder = new TempFolder();
        var bytes = File.ReadAllBytes(TokenizerTestFiles.TokBin);
        // Token 0 starts after the 4-byte header: score (4 bytes), then its length.
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), length);
        var path = folder.Write("tok512.bin", bytes);

        var error = Assert.Throws<TokenizerFormatException>(() => Llama2cTokenizerConverter.BuildModelProto(path, 512));

        Assert.StartsWith(path, error.Message);
        Assert.Contains("token 0", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_wrong_vocabulary_size_is_refused()
    {
        var error = Assert.Throws<TokenizerFormatException>(() => Llama2cTokenizerConverter.BuildModelProto(TokenizerTestFiles.TokBin, 500));

        Assert.StartsWith(TokenizerTestFiles.TokBin, error.Message);
        Assert.Contains("vocabulary size", error.Message);
    }

    [Fact]
    public void A_misplaced_byte_piece_is_refused()
    {
        var bytes = File.ReadAllBytes(TokenizerTestFiles.TokBin);
        var at = IndexOf(bytes, "<0x41>"u8);
        bytes[at + 4] = (byte)'2'; // <0x42> where <0x41> belongs

        var error = Assert.Throws<TokenizerFormatException>(() => Llama2cTokenizerConverter.BuildModelProto(bytes, 512, "tok.bin"));

        Assert.StartsWith("tok.bin: token 68", error.Message);
    }

    [Fact]
    public void A_missing_file_is_refused_naming_it()
    {
        var path = Path.Combine(TokenizerTestFiles.Root, "no-such-tok.bin");

        var error = Assert.Throws<TokenizerFormatException>(() => Llama2cTokenizerConverter.BuildModelProto(path, 512));

        Assert.StartsWith(path, error.Message);
    }

    [Fact]
    public void An_empty_or_headerless_file_is_refused()
    {
        var error = Assert.Throws<TokenizerFormatException>(() => Llama2cTokenizerConverter.BuildModelProto(new byte[2], 512, "tok.bin"));

        Assert.StartsWith("tok.bin: truncated", error.Message);
    }

    private static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle);
}
