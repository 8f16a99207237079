using System.Text;
using System.Text.Json;
using PeftHost.Core.Export.Gguf;
using PeftHost.Core.Models;
using static TorchSharp.torch;

namespace PeftHost.Bench;

/// <summary>
/// <c>peft export gguf</c> on a ~100M random LLaMA: export time and file size per type, and the mean next-token NLL
/// llama.cpp computes from each file against PeftHost's own NLL of the same tokens (the quality each type loses).
/// </summary>
public static class ExportBench
{
    /// <summary>llama.cpp's Node binding, the version the tests judge with.</summary>
    private const string LlamaCpp = "node-llama-cpp@3.21.1";
    private const int ExportRuns = 3;
    private static readonly GgmlType[] Types = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0];

    private const string Text = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. " +
        "One day, she found a big red ball under a tree. She ran to her mom and said, \"Look what I found!\" Her mom smiled and " +
        "told her to share it with the other children, so they all played together until the sun went down.";

    /// <summary>Runs the suite; installs node-llama-cpp with npm into the judge cache on first use.</summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        var config = BenchModels.Llama100M();
        using var model = ModelLoader.CreateRandom(config, ScalarType.Float32, CPU, seed: 5);
        Sharpen(model);
        long parameters = model.parameters().Sum(p => p.numel());
        var work = Directory.CreateTempSubdirectory("peft-export-bench-").FullName;
        try
        {
            // stories260k's SentencePiece vocabulary (512 pieces), padded by the export to the model's 8192 ids.
            var tokenizerDir = Path.Combine(work, "tokenizer");
            Directory.CreateDirectory(tokenizerDir);
            foreach (var file in new[] { "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json" })
                File.Copy(Path.Combine(RepoPaths.Root, "models", "stories260k", file), Path.Combine(tokenizerDir, file));

            var packages = NodePackages.Install(LlamaCpp);
            var script = Path.Combine(RepoPaths.Root, "tests", "PeftHost.Tests", "Judges", "scripts", "llama-cpp-eval.mjs");
            var sb = new StringBuilder();
            sb.AppendLine($"A random LLaMA of {parameters / 1e6:F0}M parameters (hidden 768, 12 layers, vocab 8192, untied head; weights drawn with std 1.5/√fan-in so that its next-token distributions are peaked, not uniform) exported from memory on the CPU. Export: median of {ExportRuns} runs of `GgufModelExporter.Export` (what `peft export gguf` runs after loading), writing the file included. NLL: mean next-token NLL of a {Text.Length}-character story text, tokenized by llama.cpp (BOS first), computed by llama.cpp ({LlamaCpp}, CPU, F32 KV cache) from each file, and by PeftHost from the f32 model in memory on the same tokens.");
            sb.AppendLine();
            sb.AppendLine("| type | export s | file MB | bytes/parameter | llama.cpp NLL | PeftHost f32 NLL | llama.cpp − PeftHost |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            var seconds = new List<double>();
            var sizes = new List<double>();
            foreach (var type in Types)
            {
                var name = GgmlTypes.Name(type);
                var gguf = Path.Combine(work, $"model-{name}.gguf");
                var time = Measure.Median(Measure.Seconds(() => GgufModelExporter.Export(model, tokenizerDir, gguf, type, "bench-100m"), ExportRuns));
                long bytes = new FileInfo(gguf).Length;
                var (tokens, llamaNll) = LlamaCppNll(packages, script, gguf);
                double peftNll = PeftHostNll(model, tokens);
                File.Delete(gguf);
                seconds.Add(time);
                sizes.Add(bytes / 1e6);
                sb.AppendLine($"| {name} | {Measure.F(time, "F2")} | {Measure.F(bytes / 1e6)} | {Measure.F((double)bytes / parameters, "F3")} | {Measure.F(llamaNll, "F5")} | {Measure.F(peftNll, "F5")} | {(llamaNll - peftNll).ToString("+0.00000;-0.00000", System.Globalization.CultureInfo.InvariantCulture)} |");
                Console.WriteLine($"  {name}: export {time:F2}s, {bytes / 1e6:F1} MB, NLL llama.cpp {llamaNll:F5} vs PeftHost {peftNll:F5}");
            }
            var names = Types.Select(GgmlTypes.Name).ToArray();
            return new SuiteResult(sb.ToString(), [
                new BenchChart("time", "GGUF export time per type (~100M LLaMA)", "seconds", names, [new ChartSeries("export", [.. seconds])]),
                new BenchChart("size", "GGUF file size per type (~100M LLaMA)", "MB", names, [new ChartSeries("file", [.. sizes])]),
            ]);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Redraws every weight: norms 1, matrices with std 1.5/√fan-in.</summary>
    private static void Sharpen(CausalLanguageModel model)
    {
        using var g = new Generator(6);
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            if (p.dim() == 1) p.fill_(1);
            else p.copy_(randn(p.shape, generator: g) * (1.5 / Math.Sqrt(p.shape[1])));
        }
    }

    /// <summary>llama.cpp's tokens of <see cref="Text"/> and its mean next-token NLL over them.</summary>
    private static (long[] Tokens, double Nll) LlamaCppNll(string packages, string script, string gguf)
    {
        var input = JsonSerializer.Serialize(new { model = gguf, prompts = Array.Empty<string>(), maxTokens = 0, texts = new[] { Text } });
        using var json = JsonDocument.Parse(NodePackages.RunScript(packages, script, stdin: input, timeout: TimeSpan.FromMinutes(10)));
        var text = json.RootElement.GetProperty("texts")[0];
        return (text.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt64()).ToArray(), text.GetProperty("nll").GetDouble());
    }

    private static double PeftHostNll(CausalLanguageModel model, long[] tokens)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(tokens).unsqueeze(0);
        return LanguageModelLoss.Compute(model.Forward(ids), ids).item<float>();
    }
}
