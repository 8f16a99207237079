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

    [SkippableFact]
    public void Every_type_loads_in_llama_cpp_and_its_nll_is_reported_against_f32()
    {
        using var dir = new TempDir();
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        double? f32 = null;
        foreach (var type in new[] { GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0 })
        {
            var gguf = dir[$"stories260k-{GgmlTypes.Name(type)}.gguf"];
            GgufModelExporter.Export(model, TestPaths.Stories260k, gguf, type);
            double nll = LlamaCppJudge.Run(gguf, texts: [Text]).Texts[0].Nll;
            f32 ??= nll;
            log.WriteLine($"{GgmlTypes.Name(type),-5} {new FileInfo(gguf).Length,9:N0} bytes  llama.cpp mean NLL {nll:F6}  vs f32 {nll - f32.Value:+0.000000;-0.000000}");
            // Bounds far above the measured differences, far below what a wrong layout gives (a scrambled block: NLL > 3).
            double bound = type switch { GgmlType.F32 => 0, GgmlType.F16 or GgmlType.BF16 => 0.01, GgmlType.Q8_0 => 0.02, _ => 0.5 };
            Assert.InRange(Math.Abs(nll - f32.Value), 0, bound);
        }
    }
}

