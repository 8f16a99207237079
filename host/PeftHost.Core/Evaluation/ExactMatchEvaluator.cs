using System.Text.RegularExpressions;
using PeftHost.Core.Data;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;

namespace PeftHost.Core.Evaluation;

/// <summary>A prompt and the answer expected from greedy decoding.</summary>
/// <param name="Prompt">The prompt text.</param>
/// <param name="Reference">The expected answer.</param>
public sealed record ExactMatchItem(string Prompt, string Reference);

/// <summary>
/// Exact match of short generations: each prompt is decoded greedily (up to <see cref="MaxNewTokens"/>,
/// stopping at EOS), the answer is cut at the first line break and normalised (trimmed, whitespace
/// collapsed, optionally case-folded), and compared with the normalised reference.
/// </summary>
public sealed partial class ExactMatchEvaluator(IReadOnlyList<ExactMatchItem> items, ITokenEncoder tokenizer) : IEvaluator
{
    /// <summary>The longest answer generated.</summary>
    public int MaxNewTokens { get; init; } = 16;

    /// <summary>Compare case-insensitively.</summary>
    public bool IgnoreCase { get; init; } = true;

    /// <summary>Prompts decoded together.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>The metric's name.</summary>
    public string MetricName { get; init; } = "eval_exact_match";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Evaluate(CausalLanguageModel model, CancellationToken cancellation = default)
    {
        var answers = Generate(model, cancellation);
        int matches = answers.Where((a, i) => Matches(a, items[i].Reference, IgnoreCase)).Count();
        return new Dictionary<string, double> { [MetricName] = items.Count == 0 ? 0 : (double)matches / items.Count };
    }

    /// <summary>The decoded answer for every item, in order.</summary>
    public IReadOnlyList<string> Generate(CausalLanguageModel model, CancellationToken cancellation = default)
    {
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = MaxNewTokens, Temperature = 0 };
        var answers = new List<string>(items.Count);
        for (int start = 0; start < items.Count; start += BatchSize)
        {
            var prompts = items.Skip(start).Take(BatchSize).Select(i => tokenizer.Encode(i.Prompt, addBos: true)).ToArray();
            foreach (var ids in generator.Generate(prompts, options, cancellation: cancellation))
                answers.Add(tokenizer.Decode(ids));
        }
        return answers;
    }

    /// <summary>True when <paramref name="prediction"/>'s first line equals <paramref name="reference"/> after normalisation.</summary>
    public static bool Matches(string prediction, string reference, bool ignoreCase = true) =>
        string.Equals(Normalize(FirstLine(prediction)), Normalize(reference), ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary>Trims and collapses runs of whitespace to one space.</summary>
    public static string Normalize(string text) => Whitespace().Replace(text.Trim(), " ");

    private static string FirstLine(string text)
    {
        string trimmed = text.TrimStart();
        int newline = trimmed.IndexOf('\n');
        return newline < 0 ? trimmed : trimmed[..newline];
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
