using System.Globalization;
using System.Text.RegularExpressions;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Cli;

/// <summary>
/// <c>peft eval</c> scores the whole file, however long, with strided sliding windows over the model's context
/// (Hugging Face's perplexity guide), and says how many tokens it scored.
/// </summary>
public sealed class SlidingWindowEvalTests
{
    private static readonly string Moby = Path.Combine(TestPaths.RepoRoot, "data", "moby-dick.txt");

    private static (double Loss, long Tokens) Eval(string file, params string[] extra)
    {
        var (code, output, error) = CliTests.Run(["eval", "-m", TestPaths.Stories260k, "-f", file, .. extra]);
        Assert.True(code == 0, error);
        var m = Regex.Match(output.Trim(), @"^loss: (\S+) perplexity: (\S+) tokens: (\d+)$");
        Assert.True(m.Success, output);
        return (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_text_longer_than_the_context_is_scored_whole()
    {
        using var dir = new TempDir();
        string head = File.ReadAllText(Moby)[..4096];
        var noise = new Random(7);
        string tail = new(Enumerable.Range(0, 20_000).Select(_ => (char)noise.Next('a', 'z' + 1)).ToArray());
        File.WriteAllText(dir["head.txt"], head);
        File.WriteAllText(dir["noisy.txt"], head + tail);
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k);
        int headTokens = tokenizer.Encode(head, addBos: true).Count;
        int noisyTokens = tokenizer.Encode(head + tail, addBos: true).Count;
        Assert.True(headTokens > 2 * 512, $"the text must exceed the context several times: {headTokens} tokens");

        var clean = Eval(dir["head.txt"]);
        var noisy = Eval(dir["noisy.txt"]);
        // Every token after the first is scored, once.
        Assert.Equal(headTokens - 1, clean.Tokens);
        Assert.Equal(noisyTokens - 1, noisy.Tokens);
        // Random letters are far less likely than English: scoring the whole file must show it.
        Assert.True(noisy.Loss > clean.Loss + 0.5, $"head {clean.Loss}, head + noise {noisy.Loss}");
    }

    [Fact]
    public void The_stride_sets_the_overlap_of_the_windows()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["text.txt"], File.ReadAllText(Moby)[..4096]);
        var half = Eval(dir["text.txt"]);
        var explicitHalf = Eval(dir["text.txt"], "--stride", "256");
        var disjoint = Eval(dir["text.txt"], "--stride", "512");
        Assert.Equal(half, explicitHalf);
        // Non-overlapping windows: each window's first token has no context and is not scored; the rest see less context.
        long windows = (half.Tokens + 1 + 511) / 512;
        Assert.Equal(half.Tokens - (windows - 1), disjoint.Tokens);
        Assert.True(disjoint.Loss > half.Loss, $"less context must not score better: stride 512 {disjoint.Loss}, stride 256 {half.Loss}");

        var (code, output, error) = CliTests.Run("eval", "-m", TestPaths.Stories260k, "-f", dir["text.txt"], "--stride", "513");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Contains("stride must be between 1 and the model's context of 512 tokens, got 513", error);
    }
}
