using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Optimization;

namespace PeftHost.Core.Recipes.Api;

/// <summary>The options of <c>train</c> and how they map onto the trainer's <see cref="TrainingOptions"/> (Hugging Face Trainer names, camelCase).</summary>
internal static class TrainingOptionsReader
{
    /// <summary>Options of <c>train</c>.</summary>
    public static readonly OptionSchema Schema = new("train",
        new OptionSpec("epochs", OptionKind.Integer, "Passes over the data (default 1; ignored with maxSteps)."),
        new OptionSpec("maxSteps", OptionKind.Integer, "Optimizer steps to take (overrides epochs)."),
        new OptionSpec("batchSize", OptionKind.Integer, "Examples per micro-batch (default 8)."),
        new OptionSpec("gradientAccumulationSteps", OptionKind.Integer, "Micro-batches per optimizer step (default 1)."),
        new OptionSpec("learningRate", OptionKind.Number, "Peak learning rate (default 2e-4)."),
        new OptionSpec("optimizer", OptionKind.String, "\"adamw\" (default, float32 moments) or \"adamw_8bit\" (bitsandbytes' blockwise 8-bit moments: about a quarter of the optimizer state)."),
        new OptionSpec("weightDecay", OptionKind.Number, "AdamW decoupled weight decay (default 0)."),
        new OptionSpec("beta1", OptionKind.Number, "AdamW β1 (default 0.9)."),
        new OptionSpec("beta2", OptionKind.Number, "AdamW β2 (default 0.999)."),
        new OptionSpec("epsilon", OptionKind.Number, "AdamW ε (default 1e-8)."),
        new OptionSpec("schedule", OptionKind.String, "\"linear\" (default), \"cosine\" or \"constant\" after warm-up."),
        new OptionSpec("warmupSteps", OptionKind.Integer, "Linear warm-up steps (default 0)."),
        new OptionSpec("warmupRatio", OptionKind.Number, "Warm-up as a fraction of the steps (default 0)."),
        new OptionSpec("maxGradNorm", OptionKind.Number, "Clip the gradient norm to this (default 1; 0 disables)."),
        new OptionSpec("seed", OptionKind.Integer, "Seeds the data order (default 42)."),
        new OptionSpec("shuffle", OptionKind.Boolean, "Shuffle the data each epoch (default true)."),
        new OptionSpec("logEvery", OptionKind.Integer, "Report progress (and call onLog) every N steps (default 10)."),
        new OptionSpec("validation", OptionKind.Handle, "A dataset to evaluate on (eval_loss, eval_perplexity; accuracy and F1 for classification)."),
        new OptionSpec("evalEvery", OptionKind.Integer, "Evaluate every N steps (default 0: at the end only)."),
        new OptionSpec("evalBatchSize", OptionKind.Integer, "Examples per evaluation batch (default batchSize)."),
        new OptionSpec("earlyStopping", OptionKind.Object, "{ metric = \"eval_loss\", patience = 3, minDelta = 0, greaterIsBetter = false }."),
        new OptionSpec("checkpointEvery", OptionKind.Integer, "Write a resumable checkpoint every N steps (default 0: none)."),
        new OptionSpec("checkpointEachEpoch", OptionKind.Boolean, "Write a checkpoint at the end of each epoch (default false)."),
        new OptionSpec("saveTotalLimit", OptionKind.Integer, "Checkpoints kept, the oldest removed first, never the best one (default: all)."),
        new OptionSpec("keepLastCheckpoints", OptionKind.Integer, "The former name of saveTotalLimit."),
        new OptionSpec("loadBestModelAtEnd", OptionKind.Boolean, "Load the best evaluation's checkpoint at the end (needs evalEvery, and checkpointEvery dividing it)."),
        new OptionSpec("metricForBestModel", OptionKind.String, "The evaluation metric that picks the best checkpoint (default \"eval_loss\"; \"eval_\" is prepended when missing)."),
        new OptionSpec("greaterIsBetter", OptionKind.Boolean, "Whether a larger metricForBestModel is better (default: false for losses, true otherwise)."),
        new OptionSpec("resumeFrom", OptionKind.String, "A checkpoint folder, or \"latest\" for the newest under outputDir."),
        new OptionSpec("precision", OptionKind.String, "\"float32\" (default) or \"bfloat16\" (load the model in bfloat16)."),
        new OptionSpec("gradientCheckpointing", OptionKind.Boolean, "Recompute activations in the backward pass to save memory (default: as the model is; on after prepareModelForKbitTraining)."),
        new OptionSpec("plotLossCurve", OptionKind.Boolean, "Draw loss.png at the end (default true)."),
        new OptionSpec("tensorBoard", OptionKind.Boolean, "Write TensorBoard event files under outputDir/tensorboard/ (default true)."),
        new OptionSpec("outputDir", OptionKind.String, "Where metrics.jsonl, loss.png and checkpoints/ go, under the output folder (default \"train\", then \"train-2\"…)."),
        new OptionSpec("onStep", OptionKind.Function, "Called after every optimizer step with a step context (see below)."),
        new OptionSpec("onLog", OptionKind.Function, "Called every logEvery steps with { step, totalSteps, epoch, loss, learningRate, gradNorm, tokensPerSecond, elapsed, eta }."),
        new OptionSpec("onEvaluate", OptionKind.Function, "Called after each evaluation with { step, metrics }."),
        new OptionSpec("onSave", OptionKind.Function, "Called after each checkpoint with { step, path }."),
        new OptionSpec("onEnd", OptionKind.Function, "Called when the run ends with { step, reason, message, finalLoss }."));

    private static readonly string[] Schedules = ["linear", "cosine", "constant"];
    private static readonly string[] Precisions = ["float32", "bfloat16"];

    /// <summary>The trainer's options from the recipe's, with the output folder and run id decided by the caller.</summary>
    /// <param name="o">The recipe's options.</param>
    /// <param name="outputDirectory">Where the run writes.</param>
    /// <param name="resumeFrom">The checkpoint to resume from (a real path or "latest"), if any.</param>
    /// <param name="runId">The run's id.</param>
    /// <param name="modelCheckpointing">Whether the model already recomputes activations (prepareModelForKbitTraining switches it on): the default.</param>
    public static TrainingOptions Read(OptionValues o, string outputDirectory, string? resumeFrom, string runId, bool modelCheckpointing)
    {
        var defaults = new TrainingOptions();
        return new TrainingOptions
        {
            OutputDirectory = outputDirectory,
            Epochs = o.Int("epochs", defaults.Epochs),
            MaxSteps = o.Int("maxSteps"),
            BatchSize = o.Int("batchSize", defaults.BatchSize),
            GradientAccumulationSteps = o.Int("gradientAccumulationSteps", defaults.GradientAccumulationSteps),
            LearningRate = o.Number("learningRate", defaults.LearningRate),
            Optimizer = Choice(o, "optimizer", [.. Optimizers.Names], defaults.Optimizer),
            WeightDecay = o.Number("weightDecay", defaults.WeightDecay),
            Beta1 = o.Number("beta1", defaults.Beta1),
            Beta2 = o.Number("beta2", defaults.Beta2),
            Epsilon = o.Number("epsilon", defaults.Epsilon),
            Schedule = Choice(o, "schedule", Schedules, "linear") switch
            {
                "cosine" => LearningRateScheduleKind.Cosine,
                "constant" => LearningRateScheduleKind.Constant,
                _ => LearningRateScheduleKind.Linear,
            },
            WarmupSteps = o.Int("warmupSteps", defaults.WarmupSteps),
            WarmupRatio = o.Number("warmupRatio", defaults.WarmupRatio),
            MaxGradNorm = o.Number("maxGradNorm", defaults.MaxGradNorm),
            Seed = o.Long("seed") ?? defaults.Seed,
            Shuffle = o.Bool("shuffle", defaults.Shuffle),
            LogEvery = o.Int("logEvery", defaults.LogEvery),
            EvalEvery = o.Int("evalEvery", defaults.EvalEvery),
            EvalBatchSize = o.Int("evalBatchSize"),
            EarlyStopping = EarlyStopping(o),
            CheckpointEvery = o.Int("checkpointEvery", defaults.CheckpointEvery),
            CheckpointEachEpoch = o.Bool("checkpointEachEpoch", defaults.CheckpointEachEpoch),
            SaveTotalLimit = SaveTotalLimit(o),
            LoadBestModelAtEnd = o.Bool("loadBestModelAtEnd", defaults.LoadBestModelAtEnd),
            MetricForBestModel = o.String("metricForBestModel"),
            GreaterIsBetter = o.Has("greaterIsBetter") ? o.Bool("greaterIsBetter", false) : null,
            ResumeFrom = resumeFrom,
            Precision = Choice(o, "precision", Precisions, "float32") == "bfloat16" ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32,
            GradientCheckpointing = o.Bool("gradientCheckpointing", modelCheckpointing),
            PlotLossCurve = o.Bool("plotLossCurve", defaults.PlotLossCurve),
            TensorBoard = o.Bool("tensorBoard", defaults.TensorBoard),
            RunId = runId,
        };
    }

    /// <summary>Keys of the <c>earlyStopping</c> option.</summary>
    public static readonly OptionSchema EarlyStoppingSchema = new("train earlyStopping",
        new OptionSpec("metric", OptionKind.String, "The metric to watch (default \"eval_loss\")."),
        new OptionSpec("patience", OptionKind.Integer, "Evaluations without improvement before stopping (default 3)."),
        new OptionSpec("minDelta", OptionKind.Number, "The least change that counts as improvement (default 0)."),
        new OptionSpec("greaterIsBetter", OptionKind.Boolean, "True for accuracy-like metrics (default false)."));

    private static EarlyStoppingOptions? EarlyStopping(OptionValues o)
    {
        if (o.Object("earlyStopping") is not { } given) return null;
        var e = EarlyStoppingSchema.Read(given);
        var d = new EarlyStoppingOptions();
        // Without its own metric, early stopping watches the best-model metric (as Hugging Face's callback does).
        if (!e.Has("metric") && o.String("metricForBestModel") is { } best)
            return new EarlyStoppingOptions(TrainingOptions.EvalMetricName(best), e.Int("patience", d.Patience), e.Number("minDelta", d.MinDelta));
        return new EarlyStoppingOptions(e.String("metric", d.Metric), e.Int("patience", d.Patience), e.Number("minDelta", d.MinDelta), e.Bool("greaterIsBetter", d.GreaterIsBetter));
    }

    /// <summary><c>saveTotalLimit</c>, or its former name <c>keepLastCheckpoints</c> (not both).</summary>
    private static int? SaveTotalLimit(OptionValues o)
    {
        if (o.Has("saveTotalLimit") && o.Has("keepLastCheckpoints"))
            throw new RecipeApiException("train: give saveTotalLimit or keepLastCheckpoints (its former name), not both");
        return o.Int("saveTotalLimit") ?? o.Int("keepLastCheckpoints");
    }

    private static string Choice(OptionValues o, string name, string[] choices, string fallback)
    {
        string value = o.String(name, fallback);
        if (choices.Contains(value)) return value;
        string? hint = Sdk.KeyNames.DidYouMean(value, choices);
        throw new RecipeApiException($"train: option '{name}' must be {string.Join(", ", choices.Select(c => $"\"{c}\""))}, got \"{value}\"" + (hint is null ? "" : $"; did you mean \"{hint}\"?"));
    }
}
