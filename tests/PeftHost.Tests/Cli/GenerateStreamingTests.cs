using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Support;
using PeftHost.Tests.Tokenization;

namespace PeftHost.Tests.Cli;

/// <summary>
/// `peft generate` streams its continuation; what it prints must read exactly as
/// decode(prompt + continuation) — SentencePiece's leading spaces and byte-level BPE's
/// multi-token characters included.
/// </summary>
public sealed class GenerateStreamingTests
{
    public static TheoryData<string> StoryPrompts => new()
    {
        "Tom had a red", "Once upon a time", "The cat sat", "Lily said \"hi", "One day, a",
    };

    [Theory]
    [MemberData(nameof(StoryPrompts))]
    public void SentencePiece_stream_prints_the_decoded_prompt_and_continuation(string prompt) =>
        AssertStreamMatchesDecode(TestPaths.Stories260k, prompt, maxNewTokens: 24);

    [Theory]
    [InlineData("Hello world")]
    [InlineData("Café naïve 東京")]
    [InlineData("  two leading spaces")]
    public void Byte_level_bpe_stream_prints_the_decoded_prompt_and_continuation(string prompt)
    {
        using var folder = new TempDir();
        // A tiny random model over GPT-2's vocabulary: greedy decoding from random weights picks
        // arbitrary byte-level tokens, many of them pieces of multi-byte characters.
        using (var model = TinyModels.Create(c =>
        {
            c["vocab_size"] = 50257;
            c["bos_token_id"] = 50256;
            c["eos_token_id"] = 50256;
            c["tie_word_embeddings"] = true;
        }, seed: 3))
            ModelLoader.Save(model, folder.Path);
        File.Copy(TokenizerTestFiles.Gpt2Vocab, folder["vocab.json"]);
        File.Copy(TokenizerTestFiles.Gpt2Merges, folder["merges.txt"]);
        AssertStreamMatchesDecode(folder.Path, prompt, maxNewTokens: 32);
    }

    private static void AssertStreamMatchesDecode(string modelFolder, string prompt, int maxNewTokens)
    {
        var (code, output, error) = CliTests.Run("generate", "--model", modelFolder, "--prompt", prompt, "--temperature", "0", "--max-new-tokens", maxNewTokens.ToString());
        Assert.True(code == 0, error);

        var tokenizer = TokenizerLoader.Load(modelFolder);
        var ids = tokenizer.Encode(prompt, addBos: true);
        using var model = ModelLoader.Load(modelFolder);
        var generated = new TextGenerator(model).Generate([ids], new GenerationOptions { MaxNewTokens = maxNewTokens, Temperature = 0 })[0];
        Assert.NotEmpty(generated);
        string expected = tokenizer.Decode(ids.Concat(generated));
        Assert.Equal(expected + Environment.NewLine, output);
    }
}
