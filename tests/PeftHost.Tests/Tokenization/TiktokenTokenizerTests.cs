using PeftHost.Core.Tokenization;
using Xunit;

namespace PeftHost.Tests.Tokenization;

/// <summary>The GPT-2 vocabulary written as a tiktoken rank file, once.</summary>
public sealed class Gpt2Tiktoken
{
    public string Text { get; } = TokenizerTestFiles.Gpt2AsTiktoken();
}

public sealed class TiktokenTokenizerTests(Gpt2Tiktoken tiktoken, Gpt2Tokenizer gpt2)
    : IClassFixture<Gpt2Tiktoken>, IClassFixture<Gpt2Tokenizer>
{
    [Fact]
    public void Gpt2_encoding_file_tokenizes_like_the_gpt2_bpe()
    {
        using var folder = new TempFolder();
        folder.Write("r50k_base.tiktoken", tiktoken.Text);

        var tokenizer = TokenizerLoader.Load(folder.Path);

        Assert.Equal(TokenizerKinds.Tiktoken, tokenizer.Kind);
        Assert.Equal(50257, tokenizer.VocabSize);
        Assert.Equal([50256], tokenizer.EosTokenIds);
        Assert.Equal([15496, 995], tokenizer.Encode("Hello world"));
        foreach (var sentence in TokenizerTestFiles.Sentences)
        {
            var ids = tokenizer.Encode(sentence);
            Assert.Equal(gpt2.Tokenizer.Encode(sentence), ids);
            Assert.Equal(sentence, tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void Unnamed_encoding_takes_special_tokens_from_tokenizer_config()
    {
        using var folder = new TempFolder();
        folder.Write("vocab.tiktoken", tiktoken.Text);
        folder.Write("tokenizer_config.json", """
            {
              "add_bos_token": true,
              "bos_token": "<|begin_of_text|>",
              "eos_token": "<|end_of_text|>",
              "added_tokens_decoder": {
                "50257": {"content": "<|begin_of_text|>", "special": true},
                "50258": {"content": "<|end_of_text|>", "special": true}
              }
            }
            """);

        var tokenizer = TokenizerLoader.Load(folder.Path);
        var ids = tokenizer.Encode("Hello world<|end_of_text|>");

        Assert.Equal(50259, tokenizer.VocabSize);
        Assert.Equal(50257, tokenizer.BosTokenId);
        Assert.Equal([50258], tokenizer.EosTokenIds);
        Assert.Equal([50257, 15496, 995, 50258], ids);
        Assert.Equal("Hello world", tokenizer.Decode(ids));
        Assert.Equal("<|begin_of_text|>Hello world<|end_of_text|>", tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Tiktoken_file_named_tokenizer_model_is_recognised()
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.model", tiktoken.Text);

        var tokenizer = TokenizerLoader.Load(folder.Path);

        Assert.Equal(TokenizerKinds.Tiktoken, tokenizer.Kind);
        Assert.Equal("naïve café ☃", tokenizer.Decode(tokenizer.Encode("naïve café ☃")));
    }

    [Fact]
    public void Malformed_tiktoken_file_is_refused_naming_it()
    {
        using var folder = new TempFolder();
        var path = folder.Write("broken.tiktoken", "SGVsbG8= 0\nnot a rank line\n");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(path, error.Message);
        Assert.Contains("line 2", error.Message);
    }
}
