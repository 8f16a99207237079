using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Export.Gguf;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Core.Runtime;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Optimization;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Bench;

/// <summary>
/// PeftHost against what users would run instead, on the same weights in one interleaved run: training and
/// evaluation against a PyTorch-eager LLaMA (<c>scripts/llama_reference.py</c>, Debian's python3-torch), and
/// generation (decode, prefill, time to first token) against llama.cpp (node-llama-cpp) on the GGUF export.
/// Every measurement runs in a fresh process; the two sides alternate, the order flipping each round.
/// </summary>
public static class AnchorsBench
{
    private const string LlamaCpp = "node-llama-cpp@3.21.1";
    private const int Threads = 2;
    private const int SeqLen = 256;
    private const int DecodeTokens = 288, SkipTokens = 32; // decode speed over tokens 33..288: loading and the first steps cancel out
    private const int PrefillTokens = 256, PrefillRuns = 3;
    private const int GenerationRounds = 2, FirstTokenRounds = 2;

    /// <summary>The random models: the training suite's shapes with stories260k's 512-piece vocabulary, so that both tools can load its tokenizer.</summary>
    private static readonly (string Name, ModelConfig Config, int Batch, int Steps, int Rounds)[] RandomModels =
    [
        ("~20M", BenchModels.Config(hidden: 512, intermediate: 1376, layers: 6, heads: 8, kvHeads: 4, vocab: 512), 4, 3, 2),
        ("~100M", BenchModels.Config(hidden: 768, intermediate: 2048, layers: 12, heads: 12, kvHeads: 12, vocab: 512), 2, 2, 2),
    ];

    /// <summary>Weight formats compared: PeftHost's (a load dtype, or nf4) against llama.cpp's GGUF type.</summary>
    private static readonly (string Label, string PeftHost, GgmlType LlamaCpp)[] Formats =
    [
        ("F32", "float32", GgmlType.F32),
        ("16-bit (PeftHost bf16 vs llama.cpp f16)", "bfloat16", GgmlType.F16),
        ("16-bit (PeftHost bf16 vs llama.cpp bf16)", "bfloat16", GgmlType.BF16),
        ("4-bit (PeftHost NF4 vs llama.cpp Q4_0)", "nf4", GgmlType.Q4_0),
    ];

    /// <summary>The 1-minute load average at the start of every round: how busy the machine was while the figures were taken.</summary>
    private static readonly List<double> LoadSamples = [];

    private static void SampleLoad()
    {
        if (double.TryParse(ResultsReport.LoadAverage(), System.Globalization.CultureInfo.InvariantCulture, out var load)) LoadSamples.Add(load);
    }

    /// <summary>Runs the suite.</summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        var python = ReferencePython.Find();
        var packages = NodePackages.Install(LlamaCpp);
        var peft = Path.Combine(RepoPaths.Root, "host", "PeftHost", "bin", "Release", "net10.0", "linux-x64", "peft");
        if (!File.Exists(peft)) throw new InvalidOperationException($"{peft} not found: build the CLI first (dotnet build host/PeftHost -c Release)");
        var work = Directory.CreateTempSubdirectory("peft-anchors-").FullName;
        try
        {
            var models = new List<(string Name, string Dir, long Parameters)> { ("stories260k", Path.Combine(RepoPaths.Root, "models", "stories260k"), 0) };
            foreach (var (name, config, _, _, _) in RandomModels)
                models.Add((name, SaveRandom(config, Path.Combine(work, name.Trim('~').ToLowerInvariant())), 0));
            models = models.Select(m => (m.Name, m.Dir, ParameterCount(m.Dir))).ToList();

            var sb = new StringBuilder();
            sb.AppendLine($"PeftHost against the tools users would pick instead, on the same weights, {Threads} threads on both sides, every measurement in a fresh process, " +
                          "the two sides alternating (the order flipping each round) so that drift in the machine's speed lands on both alike. Figures are medians over the rounds, " +
                          "the range beside them; **ratios are PeftHost ÷ the reference (above 1: PeftHost is faster)**. Models: random LLaMAs " +
                          $"({string.Join("; ", RandomModels.Select(m => $"{m.Name}: hidden {m.Config.HiddenSize}, {m.Config.NumHiddenLayers} layers, heads {m.Config.NumAttentionHeads}/{m.Config.NumKeyValueHeads} KV"))}; " +
                          "vocabulary 512, stories260k's SentencePiece tokenizer) saved as safetensors, and the bundled stories260k.");
            sb.AppendLine();
            var generationCharts = Generation(packages, peft, models, work, sb);
            FirstToken(packages, peft, models, work, sb);
            var trainingCharts = Training(python, models, sb);
            if (LoadSamples.Count > 0)
                sb.AppendLine().AppendLine($"1-minute load average at the start of the rounds: {Measure.F(LoadSamples.Min())}–{Measure.F(LoadSamples.Max())} " +
                    $"(median {Measure.F(Measure.Median(LoadSamples))}) on {Environment.ProcessorCount} cores: " +
                    "a load above the core count means other work shared the cores, and the two tools need not slow alike (see the performance log).");
            return new SuiteResult(sb.ToString(), [.. generationCharts, .. trainingCharts]);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Training and evaluation tokens/s and peak RSS: PeftHost vs the PyTorch-eager reference, LoRA and full fine-tuning.</summary>
    private static BenchChart[] Training(ReferencePython python, List<(string Name, string Dir, long Parameters)> models, StringBuilder sb)
    {
        string[] methods = ["lora", "full"];
        sb.AppendLine($"### Training vs PyTorch {python.TorchVersion} eager ({python.Blas})");
        sb.AppendLine();
        sb.AppendLine($"Sequence length {SeqLen}, random token ids, AdamW (lr 1e-4), fp32. LoRA: r=8, α=16 on q_proj and v_proj, no dropout. The reference " +
                      "(`bench/PeftHost.Bench/scripts/llama_reference.py`) is a plain eager LLaMA written from the published definition and loads the same " +
                      "model.safetensors. In each process: one warm-up step, then " +
                      $"{string.Join(" / ", RandomModels.Select(m => $"{m.Steps} (~{m.Name.Trim('~')})"))} measured steps (median); evaluation is forward + loss without " +
                      "gradients on the same batches (median after a warm-up). Peak RSS is the process's VmHWM (the largest of the rounds).");
        sb.AppendLine();
        sb.AppendLine("| model | batch | method | PeftHost tokens/s | PyTorch tokens/s | **training ratio** | PeftHost eval tokens/s | PyTorch eval tokens/s | **eval ratio** | PeftHost peak RSS | PyTorch peak RSS | rounds |");
        sb.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var ratios = methods.ToDictionary(m => m, _ => new List<double>());
        foreach (var (name, _, batch, steps, rounds) in RandomModels)
        {
            var dir = models.First(m => m.Name == name).Dir;
            foreach (var method in methods)
            {
                var peftRuns = new List<JsonElement>();
                var torchRuns = new List<JsonElement>();
                for (int round = 0; round < rounds; round++)
                {
                    Action peftRun = () => peftRuns.Add(ChildProcess.Run("anchor-train", dir, method, batch.ToString(), steps.ToString()));
                    Action torchRun = () => torchRuns.Add(python.Train(dir, method, batch, steps, Threads));
                    Console.WriteLine($"  training {name} {method}, round {round + 1} of {rounds}");
                    SampleLoad();
                    foreach (var run in round % 2 == 0 ? new[] { peftRun, torchRun } : [torchRun, peftRun]) run();
                }
                var p = Figures(peftRuns, "tokensPerSecond");
                var t = Figures(torchRuns, "tokensPerSecond");
                var pe = Figures(peftRuns, "evalTokensPerSecond");
                var te = Figures(torchRuns, "evalTokensPerSecond");
                ratios[method].Add(p.Median / t.Median);
                Console.WriteLine($"  training {name} {method}: PeftHost {p}, PyTorch {t} tokens/s; eval {pe} vs {te}");
                sb.AppendLine($"| {name} | {batch} | {method} | {p} | {t} | **{Ratio(p.Median, t.Median)}** | {pe} | {te} | **{Ratio(pe.Median, te.Median)}** | " +
                              $"{ModelReport.FormatBytes(peftRuns.Max(r => r.GetProperty("peakRss").GetInt64()))} | {ModelReport.FormatBytes(torchRuns.Max(r => r.GetProperty("peakRss").GetInt64()))} | {rounds} |");
            }
        }
        sb.AppendLine();
        sb.AppendLine("Targets (issue #20): LoRA training ≥ 2× PyTorch eager on both sizes, full fine-tuning ≥ 1.5×.");
        sb.AppendLine();
        return
        [
            new BenchChart("training-ratio", "Training tokens/s, PeftHost ÷ PyTorch eager (same weights, interleaved)", "ratio (above 1: PeftHost faster)",
                RandomModels.Select(m => m.Name).ToArray(), methods.Select(m => new ChartSeries(m, [.. ratios[m]])).ToList()),
        ];
    }

    /// <summary>Batch-1 greedy decode and 256-token prefill: PeftHost vs llama.cpp on the GGUF export of the same weights.</summary>
    private static BenchChart[] Generation(string packages, string peft, List<(string Name, string Dir, long Parameters)> models, string work, StringBuilder sb)
    {
        sb.AppendLine($"### Generation vs llama.cpp ({LlamaCpp})");
        sb.AppendLine();
        sb.AppendLine($"llama.cpp on the CPU through node-llama-cpp (`bench/PeftHost.Bench/scripts/llama-cpp-speed.mjs`): flash attention off, F32 KV cache, {Threads} threads, " +
                      "on the GGUF that `peft export gguf` writes from the same weights. PeftHost: `TextGenerator` as `peft generate` runs it, the model loaded " +
                      "from the same folder (bf16: loaded as bfloat16; NF4: the fp32 model quantized with the nf4 plugin, block 64, double quantization, fp32 compute). " +
                      $"Decode: batch 1, greedy, from BOS alone, {DecodeTokens} tokens generated without stopping at end-of-sequence, tokens/s over the last " +
                      $"{DecodeTokens - SkipTokens} (the first {SkipTokens}, loading included, left out). Prefill: a {PrefillTokens}-token prompt (random ids) evaluated " +
                      $"from an empty cache and its first token chosen, median of {PrefillRuns} after a warm-up, tokens/s = {PrefillTokens} ÷ seconds. " +
                      $"{GenerationRounds} rounds, each a fresh process per side and format.");
        sb.AppendLine();
        sb.AppendLine("| model | parameters | weights | PeftHost decode tokens/s | llama.cpp decode tokens/s | **decode ratio** | PeftHost prefill tokens/s | llama.cpp prefill tokens/s | **prefill ratio** |");
        sb.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|");
        var decodeRatios = Formats.ToDictionary(f => f.Label, _ => new List<double>());
        var script = Path.Combine(AppContext.BaseDirectory, "scripts", "llama-cpp-speed.mjs");
        foreach (var (name, dir, parameters) in models)
        {
            var prompt = PrefillPrompt(dir);
            var ggufs = Formats.Select(f => f.LlamaCpp).Distinct().ToDictionary(t => t, t => ExportGguf(peft, dir, t, work));
            var peftRuns = Formats.Select(f => f.PeftHost).Distinct().ToDictionary(f => f, _ => new List<JsonElement>());
            var llamaRuns = ggufs.Keys.ToDictionary(t => t, _ => new List<JsonElement>());
            for (int round = 0; round < GenerationRounds; round++)
            {
                Console.WriteLine($"  generation {name}, round {round + 1} of {GenerationRounds}");
                SampleLoad();
                var runs = new List<Action>();
                foreach (var dtype in peftRuns.Keys) runs.Add(() => peftRuns[dtype].Add(ChildProcess.Run("anchor-generate", dir, dtype, string.Join(',', prompt))));
                foreach (var type in llamaRuns.Keys) runs.Add(() => llamaRuns[type].Add(LlamaCppSpeed(packages, script, ggufs[type], prompt, DecodeTokens, PrefillRuns)));
                if (round % 2 == 1) runs.Reverse();
                foreach (var run in runs) run();
            }
            foreach (var (label, dtype, type) in Formats)
            {
                var pd = Figures(peftRuns[dtype], "decodeTokensPerSecond");
                var ld = Figures(llamaRuns[type], "decodeTokensPerSecond");
                var pp = PrefillFigures(peftRuns[dtype]);
                var lp = PrefillFigures(llamaRuns[type]);
                decodeRatios[label].Add(pd.Median / ld.Median);
                Console.WriteLine($"  generation {name} {label}: decode {pd} vs {ld}, prefill {pp} vs {lp} tokens/s");
                sb.AppendLine($"| {name} | {parameters / 1e6:F1}M | {label} | {pd} | {ld} | **{Ratio(pd.Median, ld.Median)}** | {pp} | {lp} | **{Ratio(pp.Median, lp.Median)}** |");
            }
            foreach (var gguf in ggufs.Values) File.Delete(gguf);
        }
        sb.AppendLine();
        sb.AppendLine("Targets (issue #20): decode ≥ 1.2× llama.cpp F32 on ~20M and ~100M, ≥ 1.0× with 16-bit weights; prefill ≥ 1.0×; 4-bit (NF4 vs Q4_0) ≥ 0.5×.");
        sb.AppendLine();
        return
        [
            new BenchChart("decode-ratio", "Batch-1 decode tokens/s, PeftHost ÷ llama.cpp (same weights, interleaved)", "ratio (above 1: PeftHost faster)",
                models.Select(m => m.Name).ToArray(), Formats.Select(f => new ChartSeries(f.Label, [.. decodeRatios[f.Label]])).ToList()),
        ];
    }

    /// <summary>Time to first token, as a user meets it: a whole process from its start to its exit after one generated token.</summary>
    private static void FirstToken(string packages, string peft, List<(string Name, string Dir, long Parameters)> models, string work, StringBuilder sb)
    {
        sb.AppendLine("### Time to first token");
        sb.AppendLine();
        sb.AppendLine($"Wall time of one process from its start to its exit, generating one greedy token from BOS with F32 weights: " +
                      $"`peft generate -m DIR -n 1 -t 0 --threads {Threads}` against the llama.cpp script on the f32 GGUF (node start, package import, model load, context, one token). " +
                      $"Median of {FirstTokenRounds} interleaved rounds.");
        sb.AppendLine();
        sb.AppendLine("| model | PeftHost s | llama.cpp s | **PeftHost ÷ llama.cpp** |");
        sb.AppendLine("|---|---:|---:|---:|");
        var script = Path.Combine(AppContext.BaseDirectory, "scripts", "llama-cpp-speed.mjs");
        foreach (var (name, dir, _) in models)
        {
            var gguf = ExportGguf(peft, dir, GgmlType.F32, work);
            var peftSeconds = new List<double>();
            var llamaSeconds = new List<double>();
            for (int round = 0; round < FirstTokenRounds; round++)
            {
                SampleLoad();
                Action peftRun = () => peftSeconds.Add(Seconds(() =>
                {
                    var r = CommandRunner.Run(peft, ["generate", "-m", dir, "-n", "1", "-t", "0", "--threads", Threads.ToString()], RepoPaths.Root, TimeSpan.FromMinutes(5));
                    if (r.ExitCode != 0) throw new InvalidOperationException($"peft generate exited {r.ExitCode}: {r.Stderr}");
                }));
                Action llamaRun = () => llamaSeconds.Add(Seconds(() => LlamaCppSpeed(packages, script, gguf, [], 1, 0)));
                foreach (var run in round % 2 == 0 ? new[] { peftRun, llamaRun } : [llamaRun, peftRun]) run();
            }
            var p = new Figure(peftSeconds);
            var l = new Figure(llamaSeconds);
            Console.WriteLine($"  first token {name}: PeftHost {p.Format("F2")} s, llama.cpp {l.Format("F2")} s");
            sb.AppendLine($"| {name} | {p.Format("F2")} | {l.Format("F2")} | **{Ratio(p.Median, l.Median)}** |");
            File.Delete(gguf);
        }
        sb.AppendLine();
        sb.AppendLine("Target (issue #20): time to first token ≤ llama.cpp's (a ratio ≤ 1).");
        sb.AppendLine();
    }

    /// <summary>A median and the range of the values it is taken over.</summary>
    private sealed record Figure(double Median, double Min, double Max)
    {
        public Figure(IEnumerable<double> values) : this(Measure.Median(values), values.Min(), values.Max()) { }

        public string Format(string format = "F1") => $"{Measure.F(Median, format)} ({Measure.F(Min, format)}–{Measure.F(Max, format)})";

        public override string ToString() => Format();
    }

    private static Figure Figures(IEnumerable<JsonElement> runs, string property) => new(runs.Select(r => r.GetProperty(property).GetDouble()).ToList());

    /// <summary>Prefill tokens/s of each process: the prompt length over its median prefill seconds.</summary>
    private static Figure PrefillFigures(IEnumerable<JsonElement> runs) =>
        new(runs.Select(r => PrefillTokens / Measure.Median(r.GetProperty("prefillSeconds").EnumerateArray().Select(e => e.GetDouble()))).ToList());

    private static string Ratio(double a, double b) => Measure.F(a / b, "F2") + "×";

    private static double Seconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Child entry: saves the random models into <paramref name="folder"/> (<c>20m/</c>, <c>100m/</c>), as the suite does, and prints their folders.</summary>
    public static void SaveModels(string folder)
    {
        foreach (var (name, config, _, _, _) in RandomModels)
            Console.WriteLine(SaveRandom(config, Path.Combine(folder, name.Trim('~').ToLowerInvariant())));
    }

    /// <summary>A random model (seed 1) saved with stories260k's tokenizer into <paramref name="dir"/>.</summary>
    private static string SaveRandom(ModelConfig config, string dir)
    {
        using (var model = ModelLoader.CreateRandom(config, ScalarType.Float32, CPU, seed: 1))
            ModelLoader.Save(model, dir);
        foreach (var file in new[] { "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(RepoPaths.Root, "models", "stories260k", file), Path.Combine(dir, file));
        return dir;
    }

    private static long ParameterCount(string dir)
    {
        using var model = ModelLoader.Load(dir);
        return model.parameters().Sum(p => p.numel());
    }

    /// <summary>
    /// What <c>peft export gguf -t TYPE</c> writes for the model in <paramref name="dir"/>, into the run's <paramref name="work"/> folder
    /// (removed at the end, failed or not). Exported by the CLI in its own process: tensor work in this long-lived process, whose
    /// threads read the children's output, crashed the suite once with a null call while exporting the ~100M model (likely TorchSharp's temporary-Scalar race: see the `scalar-race` suite).
    /// </summary>
    private static string ExportGguf(string peft, string dir, GgmlType type, string work)
    {
        var target = Path.Combine(work, $"{Guid.NewGuid():N}-{GgmlTypes.Name(type)}.gguf");
        var r = CommandRunner.Run(peft, ["export", "gguf", "--model", dir, "--out", target, "--type", GgmlTypes.Name(type)], RepoPaths.Root, TimeSpan.FromMinutes(10));
        if (r.ExitCode != 0) throw new InvalidOperationException($"peft export gguf exited {r.ExitCode}: {r.Stderr}");
        return target;
    }

    /// <summary>BOS, then random ids (seed 11) up to <see cref="PrefillTokens"/>: the prefill prompt both sides evaluate.</summary>
    private static int[] PrefillPrompt(string dir)
    {
        var config = ModelConfig.FromJson(JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject(), dir);
        var rng = new Random(11);
        return [config.BosTokenId ?? 1, .. Enumerable.Range(1, PrefillTokens - 1).Select(_ => rng.Next(3, config.VocabSize))];
    }

    private static JsonElement LlamaCppSpeed(string packages, string script, string gguf, int[] prefill, int decodeTokens, int prefillRuns)
    {
        var input = JsonSerializer.Serialize(new { model = gguf, threads = Threads, decodeTokens, skipTokens = Math.Min(SkipTokens, decodeTokens), prefill, prefillRuns });
        using var json = JsonDocument.Parse(NodePackages.RunScript(packages, script, stdin: input, timeout: TimeSpan.FromMinutes(10)));
        return json.RootElement.Clone();
    }

    /// <summary>
    /// Child entry: trains the model in <paramref name="dir"/> (LoRA q,v r=8 or full fine-tuning) as the reference script
    /// does, then times forward + loss passes on the same batches; reports tokens/s of both and the peak RSS.
    /// </summary>
    public static void TrainChild(string dir, string method, int batch, int steps)
    {
        NativeRuntime.SetThreads(Threads);
        using var plugins = new PluginHost(new PluginHostOptions { WatchForChanges = false });
        using var model = ModelLoader.Load(dir, ScalarType.Float32, BenchDevice.Current);
        IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable;
        if (method == "full") trainable = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        else
        {
            var peft = new PeftModel(model, plugins);
            peft.AddAdapter("lora", new JsonObject { ["r"] = 8, ["loraAlpha"] = 16, ["targetModules"] = new JsonArray("q_proj", "v_proj") });
            trainable = peft.TrainableParameters();
        }
        var bus = new EventBus();
        var rates = new List<double>();
        bus.Subscribe<TrainingStepEvent>(e => rates.Add(e.TokensPerSecond));
        var data = TrainingBench.RandomTokens(batch * (steps + 1), model.Config.VocabSize);
        new Trainer(model, trainable, new TrainingOptions
        {
            MaxSteps = steps + 1, BatchSize = batch, LearningRate = 1e-4, LogEvery = 1, PlotLossCurve = false,
            Schedule = LearningRateScheduleKind.Constant, Shuffle = false,
        }, bus).Train(data);

        var evalRates = new List<double>();
        using (no_grad())
        {
            model.eval();
            for (int i = 0; i <= steps; i++)
            {
                using var scope = NewDisposeScope();
                var ids = tensor(data.Skip(i * batch).Take(batch).SelectMany(e => e.InputIds.Select(t => (long)t)).ToArray(), [batch, SeqLen]).to(BenchDevice.Current);
                var clock = Stopwatch.StartNew();
                LanguageModelLoss.Compute(model.Forward(ids), ids).item<float>();
                evalRates.Add(batch * SeqLen / clock.Elapsed.TotalSeconds);
            }
        }
        ChildProcess.Report(new
        {
            tokensPerSecond = Measure.Median(rates.Skip(1)),
            evalTokensPerSecond = Measure.Median(evalRates.Skip(1)),
            peakRss = ProcessMemory.PeakResidentBytes(),
        });
    }

    /// <summary>
    /// The model in <paramref name="dir"/> as <paramref name="format"/>: a load dtype, or nf4 (the float32 model
    /// quantized with <paramref name="plugins"/>' nf4, block 64, double quantization, float32 compute) as the suite
    /// compares it. The plugins must outlive the model: its quantized layers are theirs.
    /// </summary>
    public static CausalLanguageModel LoadAs(string dir, string format, PluginHost plugins)
    {
        if (format != "nf4") return ModelLoader.Load(dir, DeviceSelector.ParseDtype(format), BenchDevice.Current);
        var model = ModelLoader.Load(dir, ScalarType.Float32, BenchDevice.Current);
        ModelQuantizer.Quantize(model, plugins.GetQuantizer("nf4"), new QuantizationOptions(64, DoubleQuant: true, ScalarType.Float32));
        return model;
    }

    /// <summary>
    /// Child entry: loads the model in <paramref name="dir"/> as <paramref name="format"/> (a dtype, or nf4), decodes
    /// <see cref="DecodeTokens"/> greedy tokens from BOS and times prefills of <paramref name="prompt"/>.
    /// </summary>
    public static void GenerateChild(string dir, string format, int[] prompt)
    {
        NativeRuntime.SetThreads(Threads);
        using var plugins = new PluginHost(new PluginHostOptions { WatchForChanges = false });
        using var model = LoadAs(dir, format, plugins);
        var generator = new TextGenerator(model);
        int bos = model.Config.BosTokenId ?? 1;
        var stamps = new double[DecodeTokens + 1];
        var clock = Stopwatch.StartNew();
        int count = 0;
        var decode = new GenerationOptions { Temperature = 0, MaxNewTokens = DecodeTokens, StopAtEos = false };
        generator.Generate([[bos]], decode, (_, _) => stamps[++count] = clock.Elapsed.TotalSeconds);
        var prefill = new GenerationOptions { Temperature = 0, MaxNewTokens = 1, StopAtEos = false };
        var prefillSeconds = Measure.Seconds(() => generator.Generate([prompt], prefill), PrefillRuns);
        ChildProcess.Report(new
        {
            decodeTokensPerSecond = (DecodeTokens - SkipTokens) / (stamps[DecodeTokens] - stamps[SkipTokens]),
            prefillSeconds,
        });
    }
}

/// <summary>
/// The Python that runs the PyTorch reference: Debian's <c>/usr/bin/python3</c> with <c>python3-torch</c> (1.13 on
/// bookworm), installed with apt-get when missing and the bench runs as root; otherwise the error says how.
/// </summary>
public sealed class ReferencePython
{
    private readonly string _python;

    private ReferencePython(string python, string torchVersion)
    {
        _python = python;
        TorchVersion = torchVersion;
    }

    /// <summary>The torch version the reference runs on.</summary>
    public string TorchVersion { get; }

    /// <summary>The BLAS its matrix products go through (the system's libblas.so.3).</summary>
    public string Blas => ReferenceBlas.Name();

    private static string PythonPath => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>python3 with torch, or null when it has none (nothing is installed).</summary>
    public static ReferencePython? TryFind() => TorchVersionOf(PythonPath) is string version ? new ReferencePython(PythonPath, version) : null;

    /// <summary>
    /// Finds python3 with torch on an optimized BLAS, installing Debian's python3-torch and OpenBLAS with apt-get when
    /// missing and running as root. Debian's torch does its matrix products through the system's libblas.so.3; with
    /// only the reference (netlib) BLAS that python3-torch pulls in, the ~20M LoRA step ran at 39 tokens/s against 629
    /// with OpenBLAS, which would make any ratio against it meaningless.
    /// </summary>
    public static ReferencePython Find()
    {
        var packages = new List<string>();
        if (TryFind() is null) packages.Add("python3-torch");
        if (!ReferenceBlas.IsOptimized(ReferenceBlas.Name())) packages.Add("libopenblas0-pthread");
        if (packages.Count > 0 && Environment.UserName == "root" && File.Exists("/usr/bin/apt-get"))
        {
            Console.WriteLine($"  installing {string.Join(" and ", packages)} with apt-get (the PyTorch reference)");
            CommandRunner.Run("/usr/bin/apt-get", ["install", "-y", "-q", .. packages], RepoPaths.Root, TimeSpan.FromMinutes(20),
                environment: new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" });
        }
        var found = TryFind() ?? throw new InvalidOperationException(
            $"{PythonPath} cannot import torch: install the PyTorch reference with `sudo apt-get install python3-torch libopenblas0-pthread` (Debian/Ubuntu) and rerun");
        string blas = ReferenceBlas.Name();
        if (!ReferenceBlas.IsOptimized(blas))
            throw new InvalidOperationException($"PyTorch would multiply matrices with {blas}, 16× slower here than OpenBLAS: " +
                "install one (`sudo apt-get install libopenblas0-pthread`) and rerun");
        return found;
    }

    private static string? TorchVersionOf(string python)
    {
        try
        {
            var r = CommandRunner.Run(python, ["-c", "import torch; print(torch.__version__)"], RepoPaths.Root, TimeSpan.FromMinutes(2));
            return r.ExitCode == 0 ? r.Stdout.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }

    /// <summary>Runs the reference training script; returns its RESULT object.</summary>
    public JsonElement Train(string modelDir, string method, int batch, int steps, int threads) =>
        RunScript([modelDir, method, batch.ToString(), steps.ToString(), threads.ToString()]);

    /// <summary>The reference model's mean next-token NLL of <paramref name="ids"/> (one row).</summary>
    public double Nll(string modelDir, IEnumerable<int> ids) => RunScript([modelDir, "nll", string.Join(',', ids)]).GetProperty("nll").GetDouble();

    private JsonElement RunScript(string[] args)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "scripts", "llama_reference.py");
        var r = CommandRunner.Run(_python, [script, .. args], RepoPaths.Root, TimeSpan.FromMinutes(30));
        var line = r.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (r.ExitCode != 0 || line is null) throw new InvalidOperationException($"llama_reference.py {string.Join(' ', args.Take(2))} exited {r.ExitCode}: {r.Stderr}");
        return JsonDocument.Parse(line["RESULT ".Length..]).RootElement.Clone();
    }
}

/// <summary>Which library the system's <c>libblas.so.3</c> is (Debian's alternatives link), which Debian's torch multiplies matrices with.</summary>
public static class ReferenceBlas
{
    /// <summary>"OpenBLAS", "BLIS", "reference BLAS (netlib)", the library's path, or "no libblas.so.3".</summary>
    public static string Name()
    {
        var link = Directory.GetDirectories("/usr/lib", "*-linux-gnu").Select(d => Path.Combine(d, "libblas.so.3")).FirstOrDefault(File.Exists);
        if (link is null) return "no libblas.so.3";
        string target = new FileInfo(link).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? link;
        return target.Contains("openblas", StringComparison.OrdinalIgnoreCase) ? "OpenBLAS"
            : target.Contains("blis", StringComparison.OrdinalIgnoreCase) ? "BLIS"
            : target.Contains("/blas/", StringComparison.Ordinal) ? "reference BLAS (netlib)"
            : target;
    }

    /// <summary>False for the reference BLAS or none.</summary>
    public static bool IsOptimized(string name) => name is not ("reference BLAS (netlib)" or "no libblas.so.3");
}
