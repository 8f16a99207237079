using System.Text.Json.Nodes;
using PeftHost.Core.Tokenization;
using Xunit;

namespace PeftHost.Tests.Tokenization;

/// <summary>
/// tokenizer.json files written the way Hugging Face writes them, checked against the
/// tokenizer.model and vocab.json + merges.txt loaders of the same vocabularies.
/// </summary>
public sealed class HfTokenizerJsonTests(ConvertedLlama2cTokenizer llama2c, Gpt2Tokenizer gpt2)
    : IClassFixture<ConvertedLlama2cTokenizer>, IClassFixture<Gpt2Tokenizer>
{
    private static readonly string[] Corpus =
    [
        .. TokenizerTestFiles.Sentences,
        "One day, she saw a big, red ball. She wanted to play with it, but it was too high.",
        "The cat sat on the mat.\nThe dog barked!  Twice?? (yes)",
        "   ",
        "",
    ];

    [Fact]
    public void Byte_level_tokenizer_json_encodes_like_vocab_and_merges()
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", Gpt2TokenizerJson(
            new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            postProcessor: new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true }).ToJsonString());

        var tokenizer = TokenizerLoader.Load(folder.Path);

        Assert.Equal(TokenizerKinds.Bpe, tokenizer.Kind);
        Assert.Equal(50257, tokenizer.VocabSize);
        Assert.False(tokenizer.AddBosToken);
        foreach (var text in Corpus)
        {
            var ids = tokenizer.Encode(text);
            Assert.Equal(gpt2.Tokenizer.Encode(text), ids);
            Assert.Equal(text, tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void Llama3_style_split_template_bos_and_added_tokens_beyond_the_vocabulary()
    {
        using var folder = new TempFolder();
        var preTokenizer = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject
                {
                    ["type"] = "Split",
                    ["pattern"] = new JsonObject { ["Regex"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+" },
                    ["behavior"] = "Isolated",
                    ["invert"] = false,
                },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
        };
        var postProcessor = new JsonObject
        {
            ["type"] = "Sequence",
            ["processors"] = new JsonArray(
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
                new JsonObject
                {
                    ["type"] = "TemplateProcessing",
                    ["single"] = new JsonArray(
                        new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["type_id"] = 0 } },
                        new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                }),
        };
        var json = Gpt2TokenizerJson(preTokenizer, postProcessor);
        json["added_tokens"]!.AsArray().Add(AddedToken(50257, "<|begin_of_text|>", special: true));
        json["added_tokens"]!.AsArray().Add(AddedToken(50258, "<|eot_id|>", special: true));
        folder.Write("tokenizer.json", json.ToJsonString());
        folder.Write("tokenizer_config.json", """{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}""");
        folder.Write("generation_config.json", """{"bos_token_id": 50257, "eos_token_id": [50256, 50258]}""");

        var tokenizer = TokenizerLoader.Load(folder.Path);
        var ids = tokenizer.Encode("Hello world 12345<|eot_id|>");

        Assert.Equal(50259, tokenizer.VocabSize);
        Assert.True(tokenizer.AddBosToken);
        Assert.Equal(50257, tokenizer.BosTokenId);
        Assert.Equal([50258, 50256], tokenizer.EosTokenIds);
        // cl100k splits digits in threes: "123" "45", with the space standing alone.
        Assert.Equal([50257, 15496, 995, 220, 10163, 2231, 50258], ids);
        Assert.Equal("Hello world 12345", tokenizer.Decode(ids));
        Assert.Equal("<|begin_of_text|>Hello world 12345<|eot_id|>", tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Merges_as_pairs_load_like_merges_as_strings()
    {
        using var folder = new TempFolder();
        var json = Gpt2TokenizerJson(new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true });
        var pairs = new JsonArray();
        foreach (var merge in json["model"]!["merges"]!.AsArray())
            pairs.Add(new JsonArray([.. ((string)merge!).Split(' ').Select(part => (JsonNode)part)]));
        json["model"]!["merges"] = pairs;
        folder.Write("tokenizer.json", json.ToJsonString());

        var tokenizer = TokenizerLoader.Load(folder.Path);

        Assert.Equal(gpt2.Tokenizer.Encode(Corpus[0]), tokenizer.Encode(Corpus[0]));
    }

    [Fact]
    public void Add_prefix_space_puts_a_space_before_the_first_word()
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", Gpt2TokenizerJson(
            new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["use_regex"] = true }).ToJsonString());

        var tokenizer = TokenizerLoader.Load(folder.Path);

        Assert.Equal([18435, 995], tokenizer.Encode("Hello world"));
    }

    [Fact]
    public void Sentencepiece_style_tokenizer_json_encodes_like_tokenizer_model()
    {
        using var folder = new TempFolder();
        var normalizer = new JsonObject
        {
            ["type"] = "Sequence",
            ["normalizers"] = new JsonArray(
                new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
        };
        var decoder = new JsonObject
        {
            ["type"] = "Sequence",
            ["decoders"] = new JsonArray(
                new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
                new JsonObject { ["type"] = "ByteFallback" },
                new JsonObject { ["type"] = "Fuse" },
                new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
        };
        folder.Write("tokenizer.json", Llama2cTokenizerJson(normalizer, preTokenizer: null, decoder).ToJsonString());

        var tokenizer = TokenizerLoader.Load(folder.Path);

        AssertSameAsTokenizerModel(tokenizer);
    }

    [Fact]
    public void Metaspace_sentencepiece_style_tokenizer_json_encodes_like_tokenizer_model()
    {
        using var folder = new TempFolder();
        var preTokenizer = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false };
        var decoder = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false };
        folder.Write("tokenizer.json", Llama2cTokenizerJson(normalizer: null, preTokenizer, decoder).ToJsonString());

        var tokenizer = TokenizerLoader.Load(folder.Path);

        AssertSameAsTokenizerModel(tokenizer);
    }

    [Fact]
    public void Unsupported_model_type_is_refused_naming_the_file()
    {
        using var folder = new TempFolder();
        var path = folder.Write("tokenizer.json", """{"model": {"type": "Unigram", "vocab": []}}""");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(path, error.Message);
        Assert.Contains("Unigram", error.Message);
    }

    [Fact]
    public void Unsupported_pre_tokenizer_is_refused_naming_it()
    {
        using var folder = new TempFolder();
        var preTokenizer = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Digits", ["individual_digits"] = true },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true }),
        };
        var path = folder.Write("tokenizer.json", Gpt2TokenizerJson(preTokenizer).ToJsonString());

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(path, error.Message);
        Assert.Contains("Digits", error.Message);
    }

    private void AssertSameAsTokenizerModel(TextTokenizer tokenizer)
    {
        Assert.Equal(TokenizerKinds.SentencePiece, tokenizer.Kind);
        Assert.Equal(512, tokenizer.VocabSize);
        Assert.Equal(1, tokenizer.BosTokenId);
        Assert.Equal([2], tokenizer.EosTokenIds);
        Assert.True(tokenizer.AddBosToken);
        foreach (var text in Corpus)
        {
            var ids = tokenizer.Encode(text);
            Assert.Equal(llama2c.Tokenizer.Encode(text), ids);
            Assert.Equal(text, tokenizer.Decode(ids));
        }
    }

    /// <summary>A GPT-2 tokenizer.json from the fixture vocabulary and merges.</summary>
    private static JsonObject Gpt2TokenizerJson(JsonNode preTokenizer, JsonNode? postProcessor = null)
    {
        var vocab = new JsonObject();
        foreach (var (token, id) in TokenizerTestFiles.ReadGpt2Vocabulary())
            vocab[token] = id;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(AddedToken(50256, "<|endoftext|>", special: true)),
            ["normalizer"] = null,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = postProcessor,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray([.. TokenizerTestFiles.ReadGpt2Merges().Select(m => (JsonNode)m)]),
            },
        };
    }

    /// <summary>
    /// A LLaMA-2-style tokenizer.json of the stories260K vocabulary. Merges are derived as
    /// Hugging Face's SentencePiece converter does: every split of a piece into two pieces, ordered by
    /// the merged piece's id (its SentencePiece score order), then by the ids of the halves.
    /// </summary>
    private static JsonObject Llama2cTokenizerJson(JsonNode? normalizer, JsonNode? preTokenizer, JsonNode decoder)
    {
        var pieces = Llama2cTokenizerConverter.ReadPieces(File.ReadAllBytes(TokenizerTestFiles.TokBin), 512, "tok512.bin");
        var ids = pieces.Select((piece, id) => (piece.Piece, id)).ToDictionary(p => p.Piece, p => p.id);
        var merges = pieces
            .Select((piece, id) => (piece, id))
            .Where(p => p.piece.Type == SentencePieceType.Normal && p.piece.Piece.Length > 1)
            .SelectMany(p => Enumerable.Range(1, p.piece.Piece.Length - 1)
                .Select(cut => (Left: p.piece.Piece[..cut], Right: p.piece.Piece[cut..], p.id)))
            .Where(m => ids.ContainsKey(m.Left) && ids.ContainsKey(m.Right))
            .OrderBy(m => m.id).ThenBy(m => ids[m.Left]).ThenBy(m => ids[m.Right])
            .Select(m => (JsonNode)$"{m.Left} {m.Right}");
        var vocab = new JsonObject();
        foreach (var (piece, id) in ids)
            vocab[piece] = id;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(AddedToken(0, "<unk>", true), AddedToken(1, "<s>", true), AddedToken(2, "</s>", true)),
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
            },
            ["decoder"] = decoder,
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["unk_token"] = "<unk>",
                ["fuse_unk"] = true,
                ["byte_fallback"] = true,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray([.. merges]),
            },
        };
    }

    private static JsonObject AddedToken(int id, string content, bool special) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = !special,
        ["special"] = special,
    };
}
