using PeftHost.Core.Export.Gguf;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Tests.Export;
using PeftHost.Tests.Support;
using Xunit.Abstractions;

namespace PeftHost.Tests.Families;

/// <summary>
/// Each family's tiny random model exported to GGUF and run by llama.cpp (node-llama-cpp 3.21.1): the next-token
/// log-probabilities agree with PeftHost's at every position of a text longer than the sliding window, and greedy
/// continuations agree token for token.
/// </summary>
public sealed class FamilyLlamaCppTests(ITestOutputHelper log)
{
    /// <summary>
    /// Largest |log p(llama.cpp) − log p(PeftHost)| allowed over every position and vocabulary entry, both in f32.
    /// llama.cpp's CPU GELU reads a table at f16 inputs, so the GeGLU families (Gemma) agree less closely.
    /// </summary>
    private static double Tolerance(CausalLanguageModel model) => model.Config.HiddenActivation == "silu" ? 1e-4 : 1e-2;

    [SkippableTheory]
    [InlineData("llama3")]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    [InlineData("gemma2")]
    [InlineData("gemma3_text")]
    [InlineData("phi3")]
    public void Family_in_llama_cpp_matches_PeftHost_logprobs_and_greedy_tokens(string family)
    {
        using var model = FamilyModels.Random(family);
        using var dir = new TempDir();
        FamilyModels.CopyTokenizer(dir.Path);
        var gguf = dir[$"{family}.gguf"];
        GgufModelExporter.Export(model, dir.Path, gguf, GgmlType.F32);

        var judged = LlamaCppJudge.Run(gguf, prompts: [GgufModelExportTests.Prompts[2]], maxTokens: 12, logprobTexts: [GgufModelExportTests.Text]);
        var text = judged.Logprobs[0];
        Assert.True(text.Tokens.Length > 3 * FamilyModels.Window, $"the text must outrun the sliding window: {text.Tokens.Length} tokens");
        var (worst, ours) = LlamaCppJudge.LogProbDifference(model, text);
        double spread = ours.Average(row => row.Max() - row.Min());
        log.WriteLine($"{family}: {text.Tokens.Length} positions × {ours[0].Length} log-probabilities (mean max − min {spread:F2}), largest difference {worst:E2}");
        Assert.InRange(worst, 0, Tolerance(model));

        var prompt = judged.Prompts[0];
        var greedy = LlamaCppJudge.Greedy(model, prompt.PromptTokens, 12, eos: 2);
        log.WriteLine($"{family}: llama.cpp continues with [{string.Join(", ", prompt.Generated)}]");
        Assert.Equal(greedy, prompt.Generated);
    }

    [SkippableFact]
    public void Cached_decoding_through_the_threaded_kernel_continues_as_llama_cpp_does()
    {
        // Wide enough (hidden 512) that every projection of a cached one-token step goes through FloatMatVec's kernel
        // on libtorch's threads, as `peft generate` decodes; llama.cpp's greedy continuation of the same weights judges it.
        using var model = FamilyModels.Random("llama3", j =>
        {
            j["hidden_size"] = 512; j["intermediate_size"] = 1024; j["num_attention_heads"] = 8; j["num_key_value_heads"] = 4;
        });
        var q = (TorchSharp.Modules.Linear)model.named_modules().First(m => m.name.EndsWith("q_proj", StringComparison.Ordinal)).module;
        using (TorchSharp.torch.no_grad())
        using (var one = TorchSharp.torch.zeros(1, 1, 512))
            Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported && PeftHost.Sdk.IntraOpParallel.Parts(512, 512) > 1, FloatMatVec.Applies(q.weight!, one));
        using var dir = new TempDir();
        FamilyModels.CopyTokenizer(dir.Path);
        var gguf = dir["llama3-512.gguf"];
        GgufModelExporter.Export(model, dir.Path, gguf, GgmlType.F32);
        var prompt = LlamaCppJudge.Run(gguf, prompts: [GgufModelExportTests.Prompts[2]], maxTokens: 16).Prompts[0];

        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 16, StopAtEos = false };
        var ours = new TextGenerator(model).Generate([prompt.PromptTokens], options)[0];
        log.WriteLine($"llama.cpp continues with [{string.Join(", ", prompt.Generated)}], PeftHost with [{string.Join(", ", ours)}]");
        Assert.Equal(prompt.Generated, ours.Take(prompt.Generated.Length));
    }
}
