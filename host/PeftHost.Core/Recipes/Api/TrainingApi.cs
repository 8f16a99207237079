using Jint.Native;
using PeftHost.Core.Data;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Recipes.Limits;
using PeftHost.Core.Recipes.Sandbox;
using PeftHost.Core.Training;

namespace PeftHost.Core.Recipes.Api;

/// <summary><c>loadDataset</c>, <c>train</c> and <c>evaluate</c>, on the training engine (Core/Training, Core/Data, Core/Evaluation).</summary>
internal static class TrainingApi
{
    /// <summary>Options of <c>evaluate</c>.</summary>
    public static readonly OptionSchema EvaluateOptions = new("evaluate",
        new OptionSpec("batchSize", OptionKind.Integer, "Examples per batch (default 8)."),
        new OptionSpec("positiveLabel", OptionKind.String, "classification: the label precision, recall and f1 are reported for."),
        new OptionSpec("stride", OptionKind.Integer, "text: tokens between the starts of scored windows (default half of maxLength)."));

    /// <summary>Options of <c>retention</c>.</summary>
    public static readonly OptionSchema RetentionOptions = new("retention",
        new OptionSpec("maxTokens", OptionKind.Integer, "Reference tokens scored at most (default 4096)."),
        new OptionSpec("window", OptionKind.Integer, "Tokens per scored window, at most the model's context (default 256)."));

    /// <summary>The option schemas of the training functions.</summary>
    public static IReadOnlyList<OptionSchema> Schemas { get; } =
    [
        DatasetApi.LoadDatasetOptions, DatasetShapes.FieldsSchema, DatasetApi.SplitOptions,
        TrainingOptionsReader.Schema, TrainingOptionsReader.EarlyStoppingSchema, EvaluateOptions, RetentionOptions,
    ];

    /// <summary>Adds the functions.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        DatasetApi.Register(s, api);

        api.Add("train", s.Function("train", 3, values =>
        {
            var args = new ApiArguments("train", values).AtMost(3, "(model, dataset, { maxSteps, learningRate, onStep, … })");
            var model = ModelApi.ExpectModel(s, args[0], "train");
            var peft = model.RequirePeft("train");
            var dataset = DatasetApi.Expect(s, args[1], "train");
            var options = TrainingOptionsReader.Schema.Read(args[2]);
            var validation = options.Has("validation") ? DatasetApi.Expect(s, options.Raw("validation"), "train", "option 'validation'") : null;
            validation?.RequireInMemory("train (validation)");
            if (peft.TrainableParameters().Count == 0)
                throw new RecipeApiException($"train: adapter '{peft.ActiveAdapter}' has no trainable parameters (load it with loadAdapter(model, dir, name, {{ isTrainable: true }}))");

            int run = ++s.TrainingRuns;
            string output = s.Paths.Resolve(options.String("outputDir") ?? s.DefaultNames.Next("train"), PathAccess.Write, "train");
            // peft run --resume: each train call continues from its own folder's newest checkpoint, as resumeFrom: "latest" does.
            string? resume = options.String("resumeFrom") is { } r ? (r == "latest" ? r : s.Paths.ResolveFolder(r, "train"))
                : s.ResumesTraining ? "latest" : null;
            string runId = $"{s.RecipeName}-{run}";
            var settings = TrainingOptionsReader.Read(options, output, resume, runId, model.Model.GradientCheckpointing);
            try { settings.Validate(); }
            catch (ArgumentException e) { throw new RecipeApiException("train: " + CamelCaseOptionNames(e.Message)); }
            if (dataset.Streamed && settings.MaxSteps is null)
                throw new RecipeApiException($"train: '{dataset.Name}' is streamed: its length is not known before it is read, so give maxSteps");
            if (settings.LoadBestModelAtEnd && validation is null)
                throw new RecipeApiException("train: loadBestModelAtEnd picks the best checkpoint by an evaluation metric; give a validation dataset");

            using var bridge = new TrainingBridge(s, model, runId, options);
            // The run's own peak: the process-wide high-water mark restarts here.
            bool peakMeasured = Runtime.ProcessMemory.ResetPeak();
            var result = s.Job("train", job =>
            {
                var tokenizer = model.Tokenizer("train");
                var trainSet = TrainingData(dataset, model, tokenizer);
                var validationSet = validation is null ? null : Examples(validation, model, tokenizer, "train");
                if (dataset.Shape is ConversationShape { Packing: true } && model.Model.Hooks.ActiveInputEmbeddingHook() is not null)
                    throw new RecipeApiException("train: packed conversations cannot be trained with a virtual-token adapter (prompt tuning, P-tuning): " +
                        "its tokens would belong to the first conversation only; load the dataset with packing: false");
                var trainer = new Trainer(model.Model, peft.TrainableParameters(), settings, s.Host.Events);
                if (validation?.Shape is ClassificationShape shape) trainer.Evaluators.Add(Classifier(validation, shape, tokenizer, null, "eval_"));
                if (validation?.Shape is CausalTextShape text)
                    trainer.ValidationLoss = (cancel, progress) => ScoreWhole(model.Model, validation, text, tokenizer.AsTokenEncoder(), stride: null, cancel, progress);
                // Every checkpoint is an adapter folder too, written as saveAdapter writes one.
                trainer.WriteAdaptersInto = folder => peft.SaveAdapter(folder);
                bridge.Attach(trainer, job);
                return trainer.Train(trainSet, validationSet, job.Cancellation);
            });
            if (result.Reason == TrainingStopReason.Cancelled && s.Cancellation.IsCancellationRequested)
                throw new RecipeCancelledException($"train: cancelled at step {result.GlobalStep} of {result.TotalSteps}" +
                    (result.LastCheckpoint is null ? " (no output folder for a checkpoint)" : $"; checkpoint written to {result.LastCheckpoint}"));
            if (peft.ActiveAdapter is { } trained)
            {
                var history = peft.HistoryOf(trained);
                history.AddRun(new AdapterTrainingRun(dataset.Name, result.GlobalStep, result.Losses.Count > 0 ? result.Losses[^1] : null));
                if (result.Evaluations.Count > 0) history.SetEvaluation(validation?.Name ?? dataset.Name, result.Evaluations[^1].Metrics);
            }
            s.Notice($"training {ReasonName(result.Reason)} at step {result.GlobalStep}/{result.TotalSteps}" +
                (result.Losses.Count > 0 ? $", final loss {result.Losses[^1]:F4}" : "") + $" ({output})");
            return JsConvert.Object(s.Engine,
            [
                new("steps", result.GlobalStep), new("totalSteps", result.TotalSteps), new("reason", ReasonName(result.Reason)),
                new("message", result.Message), new("finalLoss", result.Losses.Count > 0 ? result.Losses[^1] : null),
                new("losses", result.Losses),
                new("evaluations", result.Evaluations.Select(e => new Dictionary<string, object?> { ["step"] = e.Step, ["metrics"] = e.Metrics.ToDictionary(kv => kv.Key, kv => (object?)kv.Value) }).ToList()),
                new("checkpoint", result.LastCheckpoint), new("bestMetric", result.BestMetric), new("bestStep", result.BestStep),
                new("bestCheckpoint", result.BestCheckpoint),
                new("seconds", result.Elapsed.TotalSeconds), new("outputDir", output),
                new("peakMemoryBytes", peakMeasured ? Runtime.ProcessMemory.PeakResidentBytes() : null),
                new("optimizerStateBytes", result.OptimizerStateBytes),
            ]);
        }));

        RegisterRetention(s, api);

        api.Add("evaluate", s.Function("evaluate", 3, values =>
        {
            var args = new ApiArguments("evaluate", values).AtMost(3, "(model, dataset, { batchSize, positiveLabel, stride })");
            var model = ModelApi.ExpectModel(s, args[0], "evaluate");
            var dataset = DatasetApi.Expect(s, args[1], "evaluate");
            dataset.RequireInMemory("evaluate");
            var options = EvaluateOptions.Read(args[2]);
            int batchSize = options.Int("batchSize", 8);
            if (batchSize < 1) throw new RecipeApiException($"evaluate: batchSize must be at least 1, got {batchSize}");
            string? positive = options.String("positiveLabel");
            int? stride = options.Int("stride");
            var text = dataset.Shape as CausalTextShape;
            int window = text?.ScoringWindow(model.Model.Config.MaxPositionEmbeddings) ?? 0;
            if (stride is { } st && (text is null || st < 1 || st > window))
                throw new RecipeApiException(text is null
                    ? $"evaluate: stride applies to text datasets; '{dataset.Name}' is {dataset.Format} data"
                    : $"evaluate: stride must be between 1 and the window of {window} tokens (maxLength, at most the model's context), got {st}");
            var metrics = s.Job("evaluate", job =>
            {
                var tokenizer = model.Tokenizer("evaluate");
                var encoder = tokenizer.AsTokenEncoder();
                bool wasTraining = model.Model.training;
                model.Model.eval();
                try
                {
                    // A classification set's loss is that of its gold label words, which the
                    // classifier scores anyway: one pass over the data, not two.
                    ClassificationReport? report = dataset.Shape is ClassificationShape shape
                        ? Classifier(dataset, shape, tokenizer, positive, "", batchSize).Run(model.Model, job.Cancellation)
                        : null;
                    var loss = report?.GoldLoss
                        ?? (text is not null
                            ? ScoreWhole(model.Model, dataset, text, encoder, stride, job.Cancellation)
                            : DatasetLoss.Evaluate(model.Model, Examples(dataset, model, tokenizer, "evaluate"), batchSize, encoder.PaddingId(), job.Cancellation));
                    var result = new Dictionary<string, object?> { ["loss"] = loss.Loss, ["perplexity"] = loss.Perplexity, ["tokens"] = loss.Tokens };
                    foreach (var (name, value) in report?.Metrics ?? new Dictionary<string, double>()) result[name] = value;
                    return result;
                }
                finally
                {
                    if (wasTraining) model.Model.train();
                }
            });
            if (model.Peft is { ActiveAdapter: { } evaluated } evaluatedPeft)
                evaluatedPeft.HistoryOf(evaluated).SetEvaluation(dataset.Name,
                    metrics.Where(kv => kv.Value is double).ToDictionary(kv => kv.Key, kv => (double)kv.Value!));
            return JsConvert.ToJs(s.Engine, metrics);
        }));
    }

    /// <summary>The dataset's examples for <paramref name="model"/>: chat data is rendered with the model's chat template.</summary>
    private static TokenizedDataset Examples(RecipeDataset dataset, RecipeModel model, Tokenization.TextTokenizer tokenizer, string caller)
    {
        var template = ChatTemplateFor(dataset, model, caller);
        try { return dataset.Tokenized(tokenizer, template); }
        catch (DataFormatException e) { throw new RecipeApiException($"{caller}: {e.Message}"); }
    }

    /// <summary>What <c>train</c> reads: <see cref="Examples"/>, or the file itself when the dataset is streamed.</summary>
    private static ITrainingData TrainingData(RecipeDataset dataset, RecipeModel model, Tokenization.TextTokenizer tokenizer) =>
        dataset.Streamed ? dataset.TrainingData(tokenizer, ChatTemplateFor(dataset, model, "train"))
            : Examples(dataset, model, tokenizer, "train");

    /// <summary>The model's chat template when <paramref name="dataset"/> holds chat data (it is rendered with it), else null.</summary>
    private static Chat.ChatTemplate? ChatTemplateFor(RecipeDataset dataset, RecipeModel model, string caller) =>
        dataset.NeedsChatTemplate ? ChatApi.TemplateOf(model, caller) : null;

    /// <summary>
    /// Text data scored whole, however long its documents: strided windows of <c>maxLength</c> tokens (at most the
    /// model's context) over each stream, not the packed blocks training reads (they drop the tail and start without context).
    /// </summary>
    private static PerplexityResult ScoreWhole(CausalLanguageModel model, RecipeDataset dataset, CausalTextShape text, ITokenEncoder encoder,
        int? stride, CancellationToken cancellation, Action<int, int>? progress = null) =>
        Perplexity.OfStreams(model, text.TokenStreams(dataset.Records, encoder), stride, cancellation,
            window: text.ScoringWindow(model.Config.MaxPositionEmbeddings), progress);

    /// <summary>
    /// <c>retention(model, textFile, options)</c>: what the adapters cost the base model's behaviour on
    /// reference text — the adapted and base perplexities and the mean KL(p_base ‖ p_adapted) of
    /// next-token distributions, with base logits from the same model inside a disable-adapter scope.
    /// </summary>
    private static void RegisterRetention(RecipeSession s, ApiRegistry api) =>
        api.Add("retention", s.Function("retention", 3, values =>
        {
            var args = new ApiArguments("retention", values).AtMost(3, "(model, textFile, { maxTokens, window })");
            var model = ModelApi.ExpectModel(s, args[0], "retention");
            if (model.Peft is not PeftHost.Core.Peft.PeftModel peft)
                throw new RecipeApiException("retention: the model has no adapters to compare against its base; call getPeftModel or loadAdapter first");
            string file = s.Paths.Resolve(args.String(1, "textFile"), Sandbox.PathAccess.Read, "retention");
            var options = RetentionOptions.Read(args[2]);
            int? maxTokens = options.Int("maxTokens"); // default: the whole text
            int window = options.Int("window", 256);
            var result = s.Job("retention", job =>
            {
                var ids = model.Tokenizer("retention").Encode(File.ReadAllText(file), addBos: false);
                return Retention.Evaluate(model.Model, ids, peft.DisableAdapter, window, maxTokens, cancellation: job.Cancellation);
            });
            return JsConvert.ToJs(s.Engine, new Dictionary<string, object?>
            {
                ["perplexity"] = result.Perplexity, ["basePerplexity"] = result.BasePerplexity,
                ["loss"] = result.Loss, ["baseLoss"] = result.BaseLoss, ["meanKl"] = result.MeanKl, ["tokens"] = result.Tokens,
            });
        }));

    /// <summary>How a stop reason reads in results: "completed", "early-stopped", "cancelled", "stopped", "diverged".</summary>
    public static string ReasonName(TrainingStopReason reason) => reason switch
    {
        TrainingStopReason.Completed => "completed",
        TrainingStopReason.EarlyStopped => "early-stopped",
        TrainingStopReason.Cancelled => "cancelled",
        TrainingStopReason.StoppedByHandler => "stopped",
        _ => "diverged",
    };

    private static ClassificationEvaluator Classifier(RecipeDataset dataset, ClassificationShape shape, Tokenization.TextTokenizer tokenizer, string? positive, string prefix, int batchSize = 16)
    {
        var encoder = tokenizer.AsTokenEncoder();
        var labels = shape.LabelWords?.Keys.ToArray() ?? dataset.Records.Select(r => r.Require(shape.LabelField)).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (positive is not null && !labels.Contains(positive))
            throw new RecipeApiException($"evaluate: positiveLabel '{positive}' is not a label (labels: {string.Join(", ", labels)})");
        var examples = shape.Examples(dataset.Records, encoder, labels);
        return new ClassificationEvaluator(examples, shape, encoder, labels, positive) { MetricPrefix = prefix, BatchSize = batchSize };
    }

    /// <summary>The trainer names options as C# does ("BatchSize"); recipes know them as "batchSize".</summary>
    private static string CamelCaseOptionNames(string message) =>
        System.Text.RegularExpressions.Regex.Replace(message, @"training option (\w)(\w*)", m => $"option '{char.ToLowerInvariant(m.Groups[1].Value[0])}{m.Groups[2].Value}'");
}
