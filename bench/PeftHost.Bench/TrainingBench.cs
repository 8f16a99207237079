using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Data;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Optimization;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Bench;

/// <summary>
/// Training throughput and peak memory per method, each configuration in its own process, plus
/// model FLOPs utilisation of LoRA training against the machine's measured peak matmul rate.
/// </summary>
public static class TrainingBench
{
    private const int SeqLen = 256;
    private static readonly string[] Methods = ["full", "lora", "qlora", "ia3", "prompt_tuning"];

    /// <summary>
    /// The configurations of the suite: model size, batch, measured steps per process, and rounds
    /// (processes per method). Fewer rounds and steps on ~100M, where a step takes seconds.
    /// </summary>
    private static readonly (string Size, int Batch, int Steps, int Rounds)[] Sizes = [("20m", 4, 6, 3), ("100m", 2, 3, 2)];

    /// <summary>
    /// The suite: ~20M and ~100M configs, every method. Each (size, method) runs in
    /// <c>Rounds</c> fresh processes, interleaved (every method once per round, the order rotating),
    /// so drift in the machine's speed lands on all methods alike.
    /// </summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Random LLaMA configs, sequence length {SeqLen}, fp32 compute, AdamW. Each (size, method) configuration runs in " +
                      $"{string.Join(" / ", Sizes.Select(z => $"{z.Rounds} (~{z.Size.ToUpperInvariant()})"))} fresh processes, " +
                      "interleaved: every method once per round, the order rotating each round, so drift in the machine's speed lands on all methods alike.");
        sb.AppendLine($"In each process tokens/s is the median over the measured steps after one warm-up step " +
                      $"({string.Join(", ", Sizes.Select(z => $"{z.Steps} on ~{z.Size.ToUpperInvariant()}"))}); the table gives the median of those " +
                      "per-process figures across rounds (their range beside it) and the largest peak RSS (VmHWM) of the rounds. " +
                      "`vs full` is the ratio of the medians; GFLOP/s and MFU are computed from the median tokens/s.");
        sb.AppendLine();
        double peak = PeakMatmulFlops();
        sb.AppendLine($"Measured peak matmul rate (fp32 2048×2048 matmul, median): **{Measure.F(peak / 1e9)} GFLOP/s**.");
        sb.AppendLine();
        sb.AppendLine("| model | batch | method | trainable params | tokens/s | rounds min–max | vs full | peak RSS | achieved matmul GFLOP/s | MFU |");
        sb.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        var tokensSeries = new List<ChartSeries>();
        var rssSeries = new List<ChartSeries>();
        foreach (var (size, batch, steps, rounds) in Sizes)
        {
            var runs = Methods.ToDictionary(m => m, _ => new List<JsonElement>());
            for (int round = 0; round < rounds; round++)
                for (int i = 0; i < Methods.Length; i++)
                {
                    string method = Methods[(i + round) % Methods.Length];
                    Console.WriteLine($"  ~{size.ToUpperInvariant()} {method}, round {round + 1} of {rounds}");
                    runs[method].Add(ChildProcess.Run("train", size, method, batch.ToString(), steps.ToString(), "0"));
                }
            var tps = Methods.ToDictionary(m => m, m => runs[m].Select(r => r.GetProperty("tokensPerSecond").GetDouble()).ToArray());
            var peakRss = Methods.ToDictionary(m => m, m => runs[m].Max(r => r.GetProperty("peakRss").GetInt64()));
            double fullTps = Measure.Median(tps["full"]);
            foreach (var method in Methods)
            {
                var first = runs[method][0];
                double median = Measure.Median(tps[method]);
                double flops = first.GetProperty("matmulFlopsPerToken").GetDouble() * median;
                sb.AppendLine($"| ~{size.ToUpperInvariant()} | {batch} | {method} | {first.GetProperty("trainable").GetInt64():N0} | {Measure.F(median)} | " +
                              $"{Measure.F(tps[method].Min())}–{Measure.F(tps[method].Max())} | {Measure.F(median / fullTps, "F2")}× | " +
                              $"{ReportBytes(peakRss[method])} | {Measure.F(flops / 1e9)} | {Measure.F(100 * flops / peak)}% |");
            }
            string label = $"~{size.ToUpperInvariant()}, batch {batch}";
            tokensSeries.Add(new ChartSeries(label, Methods.Select(m => Measure.Median(tps[m])).ToArray()));
            rssSeries.Add(new ChartSeries(label, Methods.Select(m => peakRss[m] / (1024.0 * 1024)).ToArray()));
        }
        sb.AppendLine();
        sb.AppendLine("Targets: LoRA ≥ 1.4× the tokens/s of full fine-tuning; LoRA MFU on ~100M ≥ 35% of the measured peak.");
        return new SuiteResult(sb.ToString(),
        [
            new BenchChart("tokens-per-second", "Training tokens/s per method (median of rounds)", "tokens/s", Methods, tokensSeries),
            new BenchChart("peak-rss", "Training peak RSS per method (max of rounds)", "peak RSS (MiB)", Methods, rssSeries),
        ]);
    }

    /// <summary>
    /// AdamW with fp32 moments against bitsandbytes-style 8-bit moments (<c>optimizer: "adamw_8bit"</c>), same run otherwise:
    /// optimizer-state bytes, peak RSS and tokens/s, full fine-tuning and LoRA on ~20M and ~100M, rounds interleaved.
    /// </summary>
    public static SuiteResult RunOptimizers(MachineInfo machine)
    {
        string[] optimizers = ["adamw", "adamw_8bit"];
        (string Size, int Batch, int Steps, int Rounds)[] sizes = [("20m", 4, 4, 2), ("100m", 2, 2, 2)];
        string[] methods = ["full", "lora"];
        var sb = new StringBuilder();
        sb.AppendLine($"Random LLaMA configs, sequence length {SeqLen}, fp32 weights; the same run with `optimizer: \"adamw\"` and `\"adamw_8bit\"`, " +
                      "each in fresh processes, the two interleaved round by round. Optimizer state is what the optimizer holds (moments and, " +
                      "for 8-bit, their per-block scales), as `train` reports it in `optimizerStateBytes`; peak RSS is the process's VmHWM (largest of the rounds).");
        sb.AppendLine();
        sb.AppendLine("| model | method | trainable params | optimizer | optimizer state | state vs adamw | peak RSS | peak vs adamw | tokens/s |");
        sb.AppendLine("|---|---|---:|---|---:|---:|---:|---:|---:|");
        var labels = new List<string>();
        var stateSeries = optimizers.ToDictionary(o => o, _ => new List<double>());
        foreach (var (size, batch, steps, rounds) in sizes)
            foreach (var method in methods)
            {
                var runs = optimizers.ToDictionary(o => o, _ => new List<JsonElement>());
                for (int round = 0; round < rounds; round++)
                    foreach (var optimizer in round % 2 == 0 ? optimizers : optimizers.Reverse())
                    {
                        Console.WriteLine($"  ~{size.ToUpperInvariant()} {method} {optimizer}, round {round + 1} of {rounds}");
                        runs[optimizer].Add(ChildProcess.Run("train", size, method, batch.ToString(), steps.ToString(), "0", optimizer));
                    }
                long State(string o) => runs[o][0].GetProperty("optimizerStateBytes").GetInt64();
                long Peak(string o) => runs[o].Max(r => r.GetProperty("peakRss").GetInt64());
                foreach (var optimizer in optimizers)
                {
                    double tps = Measure.Median(runs[optimizer].Select(r => r.GetProperty("tokensPerSecond").GetDouble()));
                    sb.AppendLine($"| ~{size.ToUpperInvariant()} | {method} | {runs[optimizer][0].GetProperty("trainable").GetInt64():N0} | {optimizer} | " +
                                  $"{ReportBytes(State(optimizer))} | {Measure.F((double)State(optimizer) / State("adamw"), "F3")}× | " +
                                  $"{ReportBytes(Peak(optimizer))} | {Measure.F((double)Peak(optimizer) / Peak("adamw"), "F2")}× | {Measure.F(tps)} |");
                    stateSeries[optimizer].Add(State(optimizer) / (1024.0 * 1024));
                }
                labels.Add($"~{size.ToUpperInvariant()} {method}");
            }
        sb.AppendLine();
        sb.AppendLine("8-bit AdamW (bitsandbytes' blockwise scheme) keeps each moment in one byte plus one fp32 absmax per 256-value block, about 2.03 bytes a parameter against fp32 AdamW's 8; tensors under 4,096 values stay fp32 (bitsandbytes' min_8bit_size), which is why small LoRA matrices save less.");
        return new SuiteResult(sb.ToString(),
        [
            new BenchChart("optimizer-state", "Optimizer state per run: fp32 AdamW vs 8-bit AdamW", "optimizer state (MiB)", labels.ToArray(),
                optimizers.Select(o => new ChartSeries(o, stateSeries[o].ToArray())).ToList()),
        ]);
    }

    /// <summary>QLoRA against LoRA with an fp32 base on a ~1B config: batch 1, seq 256, recomputation on.</summary>
    public static SuiteResult RunMemory1B(MachineInfo machine)
    {
        var sb = new StringBuilder();
        sb.AppendLine("A random ~1.1B LLaMA (TinyLlama shape: hidden 2048, 22 layers, 32 heads / 4 KV heads, vocab 32000), batch 1, sequence 256,");
        sb.AppendLine("activation recomputation on, 2 optimizer steps; each run in a fresh process. The QLoRA model is quantized layer by layer as it is");
        sb.AppendLine("materialised (as a streaming loader does), so no full-precision copy of the base is ever resident.");
        sb.AppendLine();
        sb.AppendLine("| method | resident after loading | peak RSS | tokens/s |");
        sb.AppendLine("|---|---:|---:|---:|");
        var lora = ChildProcess.Run("train", "1b", "lora", "1", "2", "1");
        var qlora = ChildProcess.Run("train", "1b", "qlora", "1", "2", "1");
        // Full fine-tuning keeps weights, gradients and two AdamW moments in fp32: 16 bytes a parameter.
        long parameters = ParameterCount(BenchModels.Llama1B());
        long fullNeeds = (long)(16.0 * parameters * 1.15);
        long available = PeftHost.Core.Runtime.ProcessMemory.AvailableSystemBytes();
        JsonElement? full = available >= fullNeeds ? ChildProcess.Run("train", "1b", "full", "1", "2", "1") : null;
        var rows = new List<(string Name, JsonElement Result)> { ("LoRA, fp32 base", lora), ("QLoRA, NF4 + double quant", qlora) };
        if (full is { } f) rows.Insert(0, ("full fine-tuning, fp32", f));
        else sb.AppendLine($"| full fine-tuning, fp32 | skipped: needs ~{ReportBytes(fullNeeds)}, {ReportBytes(available)} available | | |");
        foreach (var (name, r) in rows)
            sb.AppendLine($"| {name} | {ReportBytes(r.GetProperty("modelRss").GetInt64())} | {ReportBytes(r.GetProperty("peakRss").GetInt64())} | {Measure.F(r.GetProperty("tokensPerSecond").GetDouble(), "F2")} |");
        double ratio = (double)qlora.GetProperty("peakRss").GetInt64() / lora.GetProperty("peakRss").GetInt64();
        sb.AppendLine();
        sb.AppendLine($"QLoRA peak / LoRA peak = **{Measure.F(100 * ratio)}%** (target ≤ 30%).");
        const double GiB = 1024.0 * 1024 * 1024;
        var chart = new BenchChart("peak-rss", "Peak RSS training a ~1.1B LLaMA (batch 1, seq 256, recomputation)", "peak RSS (GiB)",
            rows.Select(r => r.Name).ToArray(),
            [new ChartSeries("peak RSS", rows.Select(r => r.Result.GetProperty("peakRss").GetInt64() / GiB).ToArray())]);
        return new SuiteResult(sb.ToString(), [chart]);
    }

    /// <summary>Parameters of a LLaMA config: embeddings, per layer attention + MLP + two norms, final norm, untied lm_head.</summary>
    private static long ParameterCount(ModelConfig c)
    {
        long attention = (long)c.HiddenSize * c.NumAttentionHeads * c.HeadDim * 2 + (long)c.HiddenSize * c.KvDim * 2;
        long layer = attention + 3L * c.HiddenSize * c.IntermediateSize + 2L * c.HiddenSize;
        long embeddings = (long)c.VocabSize * c.HiddenSize;
        return embeddings * (c.TieWordEmbeddings ? 1 : 2) + c.NumHiddenLayers * layer + c.HiddenSize;
    }

    /// <summary>Child entry: train one configuration and report throughput and memory.</summary>
    public static void Child(string size, string method, int batch, int steps, bool recompute, string optimizer)
    {
        var config = size switch
        {
            "20m" => BenchModels.Llama20M(), "100m" => BenchModels.Llama100M(), "1b" => BenchModels.Llama1B(),
            _ when size.StartsWith("100m:", StringComparison.Ordinal) => FamiliesBench.Config(size["100m:".Length..]),
            _ => throw new ArgumentException(size),
        };
        using var plugins = new PluginHost(new PluginHostOptions { WatchForChanges = false });
        var model = method == "qlora"
            ? QuantizedRandomModel(config, plugins)
            : ModelLoader.CreateRandom(config, ScalarType.Float32, BenchDevice.Current, seed: 1);
        Phase("model ready");
        long modelRss = PeftHost.Core.Runtime.ProcessMemory.ResidentBytes();
        model.GradientCheckpointing = recompute;
        IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable;
        if (method == "full")
        {
            trainable = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        }
        else
        {
            var peft = new PeftModel(model, plugins);
            peft.AddAdapter(method is "qlora" or "lora_all" ? "lora" : method, Options(method));
            trainable = peft.TrainableParameters();
        }
        long trainableCount = trainable.Sum(p => p.Parameter.NumberOfElements);
        Phase("adapter added");

        var bus = new EventBus();
        var rates = new List<double>();
        bus.Subscribe<TrainingStepEvent>(e => { rates.Add(e.TokensPerSecond); Phase($"step {e.Step}"); });
        var data = RandomTokens(batch * (steps + 1), config.VocabSize);
        var trainer = new Trainer(model, trainable, new TrainingOptions
        {
            MaxSteps = steps + 1, BatchSize = batch, LearningRate = 1e-4, LogEvery = 1, PlotLossCurve = false,
            Schedule = LearningRateScheduleKind.Constant, Shuffle = false, GradientCheckpointing = recompute, Optimizer = optimizer,
        }, bus);
        var result = trainer.Train(data);
        double tokensPerSecond = Measure.Median(rates.Skip(1));
        ChildProcess.Report(new
        {
            tokensPerSecond,
            peakRss = PeftHost.Core.Runtime.ProcessMemory.PeakResidentBytes(),
            modelRss,
            trainable = trainableCount,
            parameters = model.parameters().Sum(p => p.NumberOfElements),
            optimizerStateBytes = result.OptimizerStateBytes,
            matmulFlopsPerToken = MatmulFlopsPerToken(config, method == "full", recompute),
        });
    }

    /// <summary>Prints current and peak resident memory when PEFTHOST_BENCH_TRACE is set (for memory profiling).</summary>
    private static void Phase(string name)
    {
        if (Environment.GetEnvironmentVariable("PEFTHOST_BENCH_TRACE") is null) return;
        Console.WriteLine($"{name}: rss {ReportBytes(PeftHost.Core.Runtime.ProcessMemory.ResidentBytes())}, peak {ReportBytes(PeftHost.Core.Runtime.ProcessMemory.PeakResidentBytes())}");
    }

    /// <summary>
    /// Matmul FLOPs the step really performs per token: the forward (2 per weight, plus attention
    /// scores and mixing), the backward's input gradients (the same again) and, for full
    /// fine-tuning only, the weight gradients (the same again). Recomputation repeats the forward.
    /// Adapter matmuls are negligible at these ranks and left out.
    /// </summary>
    public static double MatmulFlopsPerToken(ModelConfig c, bool weightGradients, bool recompute)
    {
        double linear = (double)c.NumHiddenLayers * (c.HiddenSize * (c.NumAttentionHeads * c.HeadDim) * 2 + c.HiddenSize * c.KvDim * 2
                        + 3.0 * c.HiddenSize * c.IntermediateSize) + (double)c.HiddenSize * c.VocabSize;
        double attention = (double)c.NumHiddenLayers * 2 * SeqLen * c.NumAttentionHeads * c.HeadDim; // QKᵀ and AV per token
        double forward = 2 * (linear + attention);
        double passes = 2 + (weightGradients ? 1 : 0) + (recompute ? 1 : 0);
        return forward * passes;
    }

    private static JsonObject Options(string method) => method switch
    {
        "lora" or "qlora" => new JsonObject { ["r"] = 8, ["loraAlpha"] = 16, ["targetModules"] = new JsonArray("q_proj", "v_proj") },
        "lora_all" => new JsonObject { ["r"] = 8, ["loraAlpha"] = 16, ["targetModules"] = "all-linear" }, // every family has its linear layers
        "ia3" => new JsonObject(),
        "prompt_tuning" => new JsonObject { ["numVirtualTokens"] = 20 },
        _ => throw new ArgumentException(method),
    };

    private static CausalLanguageModel QuantizedRandomModel(ModelConfig config, PluginHost plugins)
    {
        // Uninitialised fp32 storage is not resident until written: each layer is filled just
        // before it is quantized and released right after.
        var model = ModelLoader.Build(config, BenchDevice.Current, ScalarType.Float32, WeightInit.Empty);
        using var g = new Generator(1);
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.EndsWith("norm.weight")) p.fill_(1);
                else if (!name.Contains("_proj")) FillNormal(p, g);
            }
        }
        var nf4 = plugins.GetQuantizer("nf4");
        ModelQuantizer.Quantize(model, nf4, new QuantizationOptions(64, DoubleQuant: true, ScalarType.Float32),
            materialize: (_, linear) => { using (no_grad()) FillNormal(linear.weight!, g); });
        KbitTraining.Prepare(model, useGradientCheckpointing: false);
        return model;
    }

    /// <summary>N(0, 0.02) from the CPU generator <paramref name="g"/>: in place on the CPU, through a host copy on a GPU.</summary>
    private static void FillNormal(Tensor t, Generator g)
    {
        if (t.device.type == DeviceType.CPU) { t.normal_(0, 0.02, g); return; }
        using var host = empty(t.shape, t.dtype).normal_(0, 0.02, g);
        t.copy_(host);
    }

    /// <summary><paramref name="count"/> examples of random ids in [3, vocab), seed 7, each <c>SeqLen</c> long.</summary>
    internal static TokenizedDataset RandomTokens(int count, int vocab)
    {
        var rng = new Random(7);
        var examples = Enumerable.Range(0, count).Select(_ =>
        {
            var ids = Enumerable.Range(0, SeqLen).Select(_ => rng.Next(3, vocab)).ToArray();
            return new TokenizedExample(ids, ids);
        }).ToList();
        return new TokenizedDataset(examples, "random tokens");
    }

    /// <summary>fp32 matmul rate on a square problem large enough to reach the BLAS peak.</summary>
    public static double PeakMatmulFlops()
    {
        const int n = 2048;
        using var a = randn(n, n, device: BenchDevice.Current);
        using var b = randn(n, n, device: BenchDevice.Current);
        var seconds = Measure.Seconds(() => { using var _ = torch.mm(a, b); }, 5);
        return 2.0 * n * n * n / Measure.Median(seconds);
    }

    internal static string ReportBytes(long bytes) => ModelReport.FormatBytes(bytes);
}
