using PeftHost.Core.Tokenization;
using Xunit;

namespace PeftHost.Tests.Tokenization;

/// <summary>The GPT-2 fixture folder (vocab.json + merges.txt) loaded once.</summary>
public sealed class Gpt2Tokenizer
{
    public TextTokenizer Tokenizer { get; } = TokenizerLoader.Load(TokenizerTestFiles.Gpt2Folder);
}

public sealed class Gpt2TokenizerTests(Gpt2Tokenizer gpt2) : IClassFixture<Gpt2Tokenizer>
{
    private TextTokenizer Tokenizer => gpt2.Tokenizer;

    [Fact]
    public void Known_gpt2_ids()
    {
        Assert.Equal([15496, 995], Tokenizer.Encode("Hello world"));
        Assert.Equal([18435], Tokenizer.Encode(" Hello"));
        // Two spaces: the first stands alone (220), the second joins the word.
        Assert.Equal([15496, 220, 995], Tokenizer.Encode("Hello  world"));
    }

    [Fact]
    public void Folder_without_config_uses_endoftext_as_bos_and_eos_and_adds_no_bos()
    {
        Assert.Equal(TokenizerKinds.Bpe, Tokenizer.Kind);
        Assert.Equal(50257, Tokenizer.VocabSize);
        Assert.Equal(50256, Tokenizer.BosTokenId);
        Assert.Equal([50256], Tokenizer.EosTokenIds);
        Assert.False(Tokenizer.AddBosToken);
        Assert.Equal([50256, 15496, 995], Tokenizer.Encode("Hello world", addBos: true));
    }

    [Theory]
    [MemberData(nameof(Sentences))]
    public void Encode_then_decode_gives_the_text_back(string sentence)
    {
        var ids = Tokenizer.Encode(sentence);

        Assert.Equal(sentence, Tokenizer.Decode(ids));
    }

    public static TheoryData<string> Sentences() => new(TokenizerTestFiles.Sentences);

    [Fact]
    public void Special_token_in_text_is_one_id_and_decoding_can_skip_it()
    {
        var ids = Tokenizer.Encode("Hello<|endoftext|>");

        Assert.Equal([15496, 50256], ids);
        Assert.Equal("Hello", Tokenizer.Decode(ids));
        Assert.Equal("Hello<|endoftext|>", Tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Tokenizer_config_overrides_the_defaults()
    {
        using var folder = new TempFolder();
        File.Copy(TokenizerTestFiles.Gpt2Vocab, folder.File("vocab.json"));
        File.Copy(TokenizerTestFiles.Gpt2Merges, folder.File("merges.txt"));
        folder.Write("tokenizer_config.json", """
            {
              "add_bos_token": true,
              "bos_token": {"content": "<|endoftext|>", "lstrip": false, "__type": "AddedToken"},
              "eos_token": "<|endoftext|>",
              "pad_token": "!"
            }
            """);

        var tokenizer = TokenizerLoader.Load(folder.Path);

        Assert.True(tokenizer.AddBosToken);
        Assert.Equal(0, tokenizer.PadTokenId); // "!" is GPT-2 id 0
        Assert.Equal([50256, 15496, 995], tokenizer.Encode("Hello world"));
        Assert.Equal("Hello world", tokenizer.Decode([50256, 15496, 995, 0, 0]));
    }
}
