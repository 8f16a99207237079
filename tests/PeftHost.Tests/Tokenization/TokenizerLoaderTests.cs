using PeftHost.Core.Tokenization;
using Xunit;

namespace PeftHost.Tests.Tokenization;

public sealed class TokenizerLoaderTests(ConvertedLlama2cTokenizer llama2c) : IClassFixture<ConvertedLlama2cTokenizer>
{
    [Fact]
    public void Missing_folder_is_refused_naming_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "pefthost-no-such-model-" + Guid.NewGuid().ToString("N"));

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith(path, error.Message);
        Assert.Contains("no such directory", error.Message);
    }

    [Fact]
    public void Folder_without_a_tokenizer_is_refused_listing_what_was_expected()
    {
        using var folder = new TempFolder();
        folder.Write("config.json", "{}");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(folder.Path, error.Message);
        Assert.Contains("tokenizer.model, tokenizer.json", error.Message);
    }

    [Theory]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [", "not valid JSON")]
    [InlineData("[1, 2, 3]", "where an object was expected")]
    [InlineData("{\"version\": \"1.0\"}", "has no \"model\"")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"zero\"}, \"merges\": []}}", "model.vocab[\"a\"]")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b c\"]}}", "model.merges[0]")]
    public void Corrupt_tokenizer_json_is_refused_naming_the_file(string content, string expected)
    {
        using var folder = new TempFolder();
        var path = folder.Write("tokenizer.json", content);

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(path, error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Corrupt_tokenizer_model_is_refused_naming_the_file()
    {
        using var folder = new TempFolder();
        var path = folder.Write("tokenizer.model", [0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01, 0x02]);

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(path, error.Message);
    }

    [Fact]
    public void Vocab_json_without_merges_is_refused()
    {
        using var folder = new TempFolder();
        var path = folder.Write("vocab.json", "{\"a\": 0}");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(path, error.Message);
        Assert.Contains("merges.txt", error.Message);
    }

    [Fact]
    public void Several_tiktoken_files_are_refused()
    {
        using var folder = new TempFolder();
        folder.Write("a.tiktoken", "YQ== 0\n");
        folder.Write("b.tiktoken", "Yg== 0\n");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(folder.Path, error.Message);
        Assert.Contains("a.tiktoken, b.tiktoken", error.Message);
    }

    [Fact]
    public void Corrupt_tokenizer_config_is_refused_naming_it()
    {
        using var folder = CopyOfConvertedFolder();
        var path = folder.Write("tokenizer_config.json", "{\"bos_token\": ");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(path, error.Message);
    }

    [Fact]
    public void Configured_token_missing_from_the_vocabulary_is_refused()
    {
        using var folder = CopyOfConvertedFolder();
        var path = folder.Write("tokenizer_config.json", "{\"bos_token\": \"<|begin_of_text|>\"}");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(path, error.Message);
        Assert.Contains("<|begin_of_text|>", error.Message);
    }

    [Fact]
    public void Configured_id_outside_the_vocabulary_is_refused()
    {
        using var folder = CopyOfConvertedFolder();
        var path = folder.Write("generation_config.json", "{\"eos_token_id\": [2, 9999]}");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder.Path));

        Assert.StartsWith(path, error.Message);
        Assert.Contains("9999", error.Message);
    }

    [Fact]
    public void Without_tokenizer_config_ids_come_from_generation_config_then_config_json()
    {
        using var folder = CopyOfConvertedFolder();
        File.Delete(folder.File("tokenizer_config.json"));
        folder.Write("config.json", "{\"bos_token_id\": 1, \"eos_token_id\": 2, \"pad_token_id\": 0}");
        folder.Write("generation_config.json", "{\"bos_token_id\": 1, \"eos_token_id\": [2, 13]}");

        var tokenizer = TokenizerLoader.Load(folder.Path);

        Assert.Equal(1, tokenizer.BosTokenId);
        Assert.Equal([2, 13], tokenizer.EosTokenIds);
        Assert.Equal(0, tokenizer.PadTokenId);
        Assert.True(tokenizer.AddBosToken); // a SentencePiece model adds BOS unless told not to
    }

    [Fact]
    public void Without_any_config_the_sentencepiece_model_names_its_own_specials()
    {
        using var folder = new TempFolder();
        File.Copy(Path.Combine(llama2c.Folder, "tokenizer.model"), folder.File("tokenizer.model"));

        var tokenizer = TokenizerLoader.Load(folder.Path);

        Assert.Equal(1, tokenizer.BosTokenId);
        Assert.Equal([2], tokenizer.EosTokenIds);
        Assert.Equal(llama2c.Tokenizer.Encode("Lily"), tokenizer.Encode("Lily"));
    }

    [Fact]
    public void Add_bos_token_false_in_tokenizer_config_is_honoured()
    {
        using var folder = CopyOfConvertedFolder();
        folder.Write("tokenizer_config.json", """{"add_bos_token": false, "bos_token": {"content": "<s>"}, "eos_token": "</s>", "pad_token": "<unk>"}""");

        var tokenizer = TokenizerLoader.Load(folder.Path);

        Assert.False(tokenizer.AddBosToken);
        Assert.Equal(0, tokenizer.PadTokenId);
        Assert.Equal(llama2c.Tokenizer.Encode("Lily", addBos: false), tokenizer.Encode("Lily"));
    }

    [Fact]
    public void Added_token_beyond_the_sentencepiece_model_extends_the_vocabulary()
    {
        using var folder = CopyOfConvertedFolder();
        folder.Write("tokenizer_config.json", """
            {
              "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>",
              "added_tokens_decoder": {
                "0": {"content": "<unk>", "special": true},
                "1": {"content": "<s>", "special": true},
                "2": {"content": "</s>", "special": true},
                "512": {"content": "<pad>", "special": true}
              }
            }
            """);

        var tokenizer = TokenizerLoader.Load(folder.Path);
        var ids = tokenizer.Encode("Lily<pad>");

        Assert.Equal(513, tokenizer.VocabSize);
        Assert.Equal(512, tokenizer.PadTokenId);
        Assert.Equal([.. llama2c.Tokenizer.Encode("Lily"), 512], ids);
        Assert.Equal("Lily", tokenizer.Decode(ids));
        // Microsoft.ML.Tokenizers drops the dummy-prefix space after <s> (Hugging Face prints "<s> Lily").
        Assert.Equal("<s>Lily<pad>", tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void A_file_path_instead_of_a_folder_is_refused()
    {
        var path = Path.Combine(llama2c.Folder, "tokenizer.model");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith(path, error.Message);
    }

    private TempFolder CopyOfConvertedFolder()
    {
        var folder = new TempFolder();
        foreach (var file in Directory.GetFiles(llama2c.Folder))
            File.Copy(file, folder.File(Path.GetFileName(file)));
        return folder;
    }
}
