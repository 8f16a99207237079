using PeftHost.Core.Export.Gguf;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using Xunit.Abstractions;

namespace PeftHost.Tests.Export;

/// <summary>Base models exported to GGUF and run by llama.cpp give PeftHost's own greedy tokens and NLL.</summary>
public sealed class GgufModelExportTests(ITestOutputHelper log)
{
    internal static readonly string[] Prompts = ["Once upon a time", "The little dog", "Lily and Tom went to the park. They"];
    internal const string Text = "One day, a little girl named Lily found a needle in her room. She knew it was difficult to play with it because it was sharp.";

    [SkippableFact]
    public void Stories260k_f32_in_llama_cpp_matches_PeftHost_greedy_tokens_and_nll()
    {
        using var dir = new TempDir();
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var gguf = dir["stories260k-f32.gguf"];
        GgufModelExporter.Export(model, TestPaths.Stories260k, gguf, GgmlType.F32);

        var judged = LlamaCppJudge.Run(gguf, prompts: Prompts, maxTokens: 24, texts: [Text]);
        foreach (var p in judged.Prompts)
        {
            var ours = LlamaCppJudge.Greedy(model, p.PromptTokens, 24, eos: 2);
            log.WriteLine($"llama.cpp: {p.Text}");
            Assert.Equal(ours, p.Generated);
        }
        double nll = LlamaCppJudge.MeanNll(model, judged.Texts[0].Tokens);
        log.WriteLine($"mean NLL: llama.cpp {judged.Texts[0].Nll:F6}, PeftHost {nll:F6}");
        Assert.InRange(Math.Abs(nll - judged.Texts[0].Nll), 0, 1e-4);
    }
}
