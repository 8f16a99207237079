using System.Text.Json;
using PeftHost.Core.Models;
using PeftHost.Tests.Judges;
using static TorchSharp.torch;

namespace PeftHost.Tests.Export;

/// <summary>What llama.cpp made of a GGUF: greedy continuations, mean NLL of texts, per-position log-probabilities.</summary>
public sealed record LlamaCppResult(List<LlamaCppPrompt> Prompts, List<LlamaCppText> Texts, List<LlamaCppLogprobs> Logprobs);

/// <summary>One prompt: llama.cpp's tokens (BOS first), its greedy continuation, and both detokenized together.</summary>
public sealed record LlamaCppPrompt(int[] PromptTokens, int[] Generated, string Text);

/// <summary>One text: its tokens and the mean next-token NLL over them.</summary>
public sealed record LlamaCppText(int[] Tokens, double Nll);

/// <summary>Log-probabilities of every vocabulary entry at every position of a text.</summary>
public sealed record LlamaCppLogprobs(int[] Tokens, double?[][] Rows);

/// <summary>Runs GGUF files in llama.cpp (the judge script llama-cpp-eval.mjs) and the same computations in PeftHost.</summary>
public static class LlamaCppJudge
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    /// <summary>llama.cpp's results for <paramref name="gguf"/> (with <paramref name="lora"/> loaded unmerged, if given).</summary>
    public static LlamaCppResult Run(string gguf, string? lora = null, string[]? prompts = null, int maxTokens = 0, string[]? texts = null, string[]? logprobTexts = null)
    {
        var judge = NodeJudge.Require(Judge.LlamaCpp);
        var input = JsonSerializer.Serialize(new { model = gguf, lora, prompts = prompts ?? [], maxTokens, texts = texts ?? [], logprobTexts = logprobTexts ?? [] }, Web);
        var output = judge.Run(JudgeScripts.Path("llama-cpp-eval.mjs"), input);
        return JsonSerializer.Deserialize<LlamaCppResult>(output, Web)!;
    }

    /// <summary>PeftHost's greedy continuation of <paramref name="prompt"/> (full forward each step; tiny models only).</summary>
    public static int[] Greedy(CausalLanguageModel model, int[] prompt, int maxTokens, int? eos)
    {
        var tokens = prompt.ToList();
        var generated = new List<int>();
        using var _ = no_grad();
        for (int i = 0; i < maxTokens; i++)
        {
            using var scope = NewDisposeScope();
            var logits = model.Forward(tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0));
            int next = (int)logits[0, -1].argmax().item<long>();
            generated.Add(next);
            tokens.Add(next);
            if (next == eos) break;
        }
        return generated.ToArray();
    }

    /// <summary>PeftHost's log-softmax of the next-token logits at every position of <paramref name="tokens"/> [T, vocab].</summary>
    public static float[][] LogProbs(CausalLanguageModel model, int[] tokens)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var logp = model.Forward(tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0))[0].to(ScalarType.Float64).log_softmax(-1).to(ScalarType.Float32);
        return Enumerable.Range(0, tokens.Length).Select(i => logp[i].data<float>().ToArray()).ToArray();
    }

    /// <summary>
    /// The largest |log p(llama.cpp) − log p(PeftHost)| over every position and vocabulary entry of <paramref name="judged"/>
    /// (an entry llama.cpp gave no probability counts as −∞), with PeftHost's log-probabilities.
    /// </summary>
    public static (double Worst, float[][] Ours) LogProbDifference(CausalLanguageModel model, LlamaCppLogprobs judged)
    {
        var ours = LogProbs(model, judged.Tokens);
        double worst = 0;
        for (int i = 0; i < judged.Tokens.Length; i++)
            for (int v = 0; v < ours[i].Length; v++)
                worst = Math.Max(worst, Math.Abs((judged.Rows[i][v] ?? double.NegativeInfinity) - ours[i][v]));
        return (worst, ours);
    }

    /// <summary>PeftHost's mean next-token NLL of <paramref name="tokens"/>.</summary>
    public static double MeanNll(CausalLanguageModel model, int[] tokens)
    {
        var logp = LogProbs(model, tokens);
        return -Enumerable.Range(0, tokens.Length - 1).Sum(i => (double)logp[i][tokens[i + 1]]) / (tokens.Length - 1);
    }
}
