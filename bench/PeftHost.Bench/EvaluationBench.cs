using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using PeftHost.Core.Data;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Tokenization;
using PeftHost.Core.Training;
using static TorchSharp.torch;

namespace PeftHost.Bench;

/// <summary>
/// Evaluation against training throughput on the quickstart's own job: stories260k with LoRA r=8 on
/// every linear layer, the SpamAssassin e-mails as the quickstart reads them (Subject + body,
/// at most 128 tokens, "spam"/"ham" after "Answer:"). Training and evaluation are measured in
/// interleaved rounds in one process, so the ratio compares like with like.
/// </summary>
public static class EvaluationBench
{
    private const int Rounds = 3;
    private const int MaxLength = 128;
    private const int TrainBatch = 16;
    private const int TrainSteps = 10;
    private const int EvalExamples = 200;
    private const int EvalBatch = 32;
    private const int RetentionTokens = 2048;

    /// <summary>Runs the suite.</summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        string root = RepoPaths.Root;
        string modelDir = Path.Combine(root, "models", "stories260k");
        using var plugins = new PluginHost(new PluginHostOptions { WatchForChanges = false });
        using var model = ModelLoader.Load(modelDir, ScalarType.Float32, BenchDevice.Current);
        var tokenizer = TokenizerLoader.Load(modelDir);
        var encoder = tokenizer.AsTokenEncoder();
        var peft = new PeftModel(model, plugins);
        peft.AddAdapter("lora", new JsonObject { ["r"] = 8, ["loraAlpha"] = 16, ["loraDropout"] = 0.05, ["targetModules"] = "all-linear" });

        var shape = QuickstartData.Shape(MaxLength);
        var trainSet = new TokenizedDataset(shape.Tokenize(QuickstartData.Emails(QuickstartData.TrainGroups, 1000), encoder), "train");
        var testRecords = QuickstartData.Emails(QuickstartData.TestGroups, EvalExamples);
        string[] labels = ["ham", "spam"];
        var reference = tokenizer.Encode(File.ReadAllText(Path.Combine(root, "data", "moby-dick.txt")), addBos: false);

        var trainOptions = new TrainingOptions { MaxSteps = TrainSteps, BatchSize = TrainBatch, LearningRate = 3e-3, LogEvery = TrainSteps, PlotLossCurve = false };
        var figures = Measure.InterleavedMedians(Rounds,
            () => TrainSteps * TrainBatch / Seconds(() => new Trainer(model, peft.TrainableParameters(), trainOptions).Train(trainSet)),
            // As the recipe's evaluate runs it: from records to metrics, prompt fitting and tokenization included.
            () => testRecords.Count / Seconds(() => Evaluator(shape, encoder, testRecords, labels).Run(model)),
            () => RetentionTokens / Seconds(() => Retention.Evaluate(model, reference, peft.DisableAdapter, maxTokens: RetentionTokens)));
        double trainRate = figures[0], evalRate = figures[1], retentionTokensRate = figures[2];

        // Where evaluation's time goes: building the examples (fitting each body to the budget) vs scoring them.
        var examples = shape.Examples(testRecords, encoder, labels);
        var split = Measure.InterleavedMedians(Rounds,
            () => Seconds(() => shape.Examples(testRecords, encoder, labels)),
            () => Seconds(() => new ClassificationEvaluator(examples, shape, encoder, labels, "spam") { BatchSize = EvalBatch }.Run(model)));
        double trainTokens = trainSet.Take(TrainBatch * TrainSteps).Average(e => e.Length);

        var sb = new StringBuilder();
        sb.AppendLine($"The quickstart's job: stories260k, LoRA r=8 on all linear layers, SpamAssassin e-mails (Subject + body, at most {MaxLength} tokens). " +
                      $"{Rounds} interleaved rounds after a warm-up, medians. Training: {TrainSteps} steps of {TrainBatch} (forward, backward, AdamW), " +
                      $"on the quickstart's tokenized training set. Evaluate: {EvalExamples} *-2 e-mails from records to metrics with batch {EvalBatch}, " +
                      $"as the recipe's `evaluate` runs (prompt fitting, tokenization, one prompt pass into the KV cache, both label words scored). " +
                      $"Retention: {RetentionTokens} Moby-Dick tokens, adapted and base passes (windows of 256, batch 4).");
        sb.AppendLine();
        sb.AppendLine("| measurement | e-mails/s | vs training |");
        sb.AppendLine("|---|---:|---:|");
        sb.AppendLine($"| training (batch {TrainBatch}) | {Measure.F(trainRate)} | 1.00× |");
        sb.AppendLine($"| evaluate (batch {EvalBatch}) | {Measure.F(evalRate)} | **{Measure.F(evalRate / trainRate, "F2")}×** |");
        sb.AppendLine();
        sb.AppendLine($"Evaluate's {EvalExamples} e-mails: building the examples (prompt fitting, tokenization) {Measure.F(split[0], "F2")} s, " +
                      $"scoring them {Measure.F(split[1], "F2")} s.");
        sb.AppendLine();
        sb.AppendLine($"Retention: {Measure.F(retentionTokensRate)} reference tokens/s (both passes) against training's " +
                      $"{Measure.F(trainRate * trainTokens)} tokens/s (mean {Measure.F(trainTokens)} tokens an e-mail).");
        sb.AppendLine();
        sb.AppendLine("Target: evaluate ≥ 3× training e-mails/s.");
        return new SuiteResult(sb.ToString(),
        [
            new BenchChart("throughput", "Quickstart: training vs evaluate, e-mails/s", "e-mails/s", ["training", "evaluate"],
                [new ChartSeries("stories260k + LoRA r=8", [trainRate, evalRate])]),
        ]);
    }

    private static ClassificationEvaluator Evaluator(ClassificationShape shape, ITokenEncoder encoder, IReadOnlyList<DataRecord> records, string[] labels) =>
        new(shape.Examples(records, encoder, labels), shape, encoder, labels, "spam") { BatchSize = EvalBatch };

    private static double Seconds(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        BenchDevice.Synchronize();
        return sw.Elapsed.TotalSeconds;
    }
}

/// <summary>The bundled SpamAssassin corpus read as <c>recipes/_spamassassin.js</c> reads it.</summary>
public static class QuickstartData
{
    /// <summary>The training groups.</summary>
    public static readonly string[] TrainGroups = ["spam-1", "easy-ham-1", "hard-ham-1"];

    /// <summary>The test groups (collected later).</summary>
    public static readonly string[] TestGroups = ["spam-2", "easy-ham-2"];

    /// <summary>The recipe's classification shape.</summary>
    public static ClassificationShape Shape(int maxLength) =>
        new(maxLength, new PromptTemplate("Subject: {subject}\n{body}\nAnswer:"))
        {
            LabelWords = new Dictionary<string, string> { ["spam"] = "spam", ["ham"] = "ham" },
            FitField = "body",
        };

    /// <summary>Class-balanced, shuffled records of <paramref name="groups"/>, at most <paramref name="limit"/> (the recipe's loadDataset options).</summary>
    public static IReadOnlyList<DataRecord> Emails(string[] groups, int limit)
    {
        const long seed = 42;
        var source = RecordSource.Open(Path.Combine(RepoPaths.Root, "data", "spamassassin", "spamassassin.jsonl.gz"))
            .WhereField("group", groups).BalanceBy("label", seed);
        return DeterministicShuffle.Shuffled(source.Read().ToList(), seed).Take(limit).ToList();
    }
}
