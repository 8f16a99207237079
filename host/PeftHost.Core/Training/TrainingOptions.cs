using PeftHost.Core.Training.Optimization;

namespace PeftHost.Core.Training;

/// <summary>Numeric precision of the forward and backward passes.</summary>
public enum TrainingPrecision
{
    /// <summary>Everything in the model's dtype, parameters updated in place.</summary>
    Float32,

    /// <summary>
    /// bf16 compute: the model's weights are bfloat16 (load it so); every trainable parameter that
    /// is not float32 gets a float32 master copy that the optimizer updates and that is cast back
    /// into the bf16 parameter after each step. Needs hardware bf16 matrix multiply.
    /// </summary>
    BFloat16,
}

/// <summary>Stop when a validation metric stops improving.</summary>
/// <param name="Metric">The metric ("eval_loss", "eval_perplexity" or an evaluator's).</param>
/// <param name="Patience">Evaluations without improvement before stopping.</param>
/// <param name="MinDelta">The least change that counts as an improvement.</param>
/// <param name="GreaterIsBetter">True for accuracies and F1, false for losses.</param>
public sealed record EarlyStoppingOptions(string Metric = "eval_loss", int Patience = 3, double MinDelta = 0, bool GreaterIsBetter = false);

/// <summary>Everything that shapes a training run. Defaults follow Hugging Face's Trainer where it has one.</summary>
public sealed record TrainingOptions
{
    /// <summary>Where metrics.jsonl, loss.png and checkpoints/ go; null keeps nothing on disk.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Passes over the training data (ignored when <see cref="MaxSteps"/> is set).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Optimizer steps to take, overriding <see cref="Epochs"/>.</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Examples per micro-batch.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Micro-batches per optimizer step; the loss is scaled so that k micro-batches equal one batch k times larger.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 2e-4;

    /// <summary>Decoupled weight decay for parameters of two or more dimensions (norms and biases get none).</summary>
    public double WeightDecay { get; init; }

    /// <summary>The optimizer: <see cref="Optimizers.AdamW"/> (float32 moments) or <see cref="Optimizers.AdamW8bit"/> (8-bit moments, about a quarter of the state).</summary>
    public string Optimizer { get; init; } = Optimizers.AdamW;

    /// <summary>AdamW β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW β2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>AdamW ε.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>How the learning rate moves after warm-up.</summary>
    public LearningRateScheduleKind Schedule { get; init; } = LearningRateScheduleKind.Linear;

    /// <summary>Linear warm-up steps (wins over <see cref="WarmupRatio"/> when positive).</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Warm-up as a fraction of the total steps (rounded up).</summary>
    public double WarmupRatio { get; init; }

    /// <summary>Clip the global gradient norm to this; 0 or less disables clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Seeds shuffling (and nothing else: the model's own seed is the caller's).</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Shuffle the training data each epoch.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Publish a <see cref="TrainingStepEvent"/> (and a metrics line) every this many steps.</summary>
    public int LogEvery { get; init; } = 10;

    /// <summary>Evaluate on the validation set every this many steps; 0: only at the end.</summary>
    public int EvalEvery { get; init; }

    /// <summary>Examples per evaluation batch (defaults to <see cref="BatchSize"/>).</summary>
    public int? EvalBatchSize { get; init; }

    /// <summary>Stop early on a validation metric; null: never.</summary>
    public EarlyStoppingOptions? EarlyStopping { get; init; }

    /// <summary>Write a checkpoint every this many steps; 0: not by steps.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Write a checkpoint at the end of each epoch.</summary>
    public bool CheckpointEachEpoch { get; init; }

    /// <summary>
    /// Checkpoints kept (Hugging Face's <c>save_total_limit</c>): after each new one the oldest are removed,
    /// except the best checkpoint when <see cref="LoadBestModelAtEnd"/> is set; null keeps them all.
    /// </summary>
    public int? SaveTotalLimit { get; init; }

    /// <summary>
    /// At the end of the run, load the weights of the checkpoint whose evaluation was best by
    /// <see cref="MetricForBestModel"/> (Hugging Face's <c>load_best_model_at_end</c>). Needs evaluations and
    /// checkpoints by steps, checkpoints at multiples of the evaluation interval.
    /// </summary>
    public bool LoadBestModelAtEnd { get; init; }

    /// <summary>
    /// The evaluation metric that decides the best checkpoint ("eval_" is prepended when missing, as Hugging Face does);
    /// null: early stopping's metric, else eval_loss.
    /// </summary>
    public string? MetricForBestModel { get; init; }

    /// <summary>Whether a larger <see cref="MetricForBestModel"/> is better; null: false for metrics ending in "loss", true otherwise.</summary>
    public bool? GreaterIsBetter { get; init; }

    /// <summary>
    /// How the best evaluation is told (<see cref="MetricForBestModel"/> and <see cref="GreaterIsBetter"/>, else early
    /// stopping's metric, else eval_loss) together with early stopping's patience: one notion of "best" for both.
    /// </summary>
    public EarlyStoppingOptions BestModelCriterion
    {
        get
        {
            var stopping = EarlyStopping ?? new EarlyStoppingOptions();
            if (MetricForBestModel is null) return stopping;
            string metric = EvalMetricName(MetricForBestModel);
            return stopping with { Metric = metric, GreaterIsBetter = GreaterIsBetter ?? !metric.EndsWith("loss", StringComparison.Ordinal) };
        }
    }

    /// <summary>An evaluation metric's full name: "eval_" prepended when missing ("loss" → "eval_loss"), as Hugging Face does.</summary>
    public static string EvalMetricName(string metric) => metric.StartsWith("eval_", StringComparison.Ordinal) ? metric : "eval_" + metric;

    /// <summary>Write TensorBoard event files (loss, learning rate, gradient norm, throughput, memory, evaluations) under <c>tensorboard/</c> (needs <see cref="OutputDirectory"/>).</summary>
    public bool TensorBoard { get; init; } = true;

    /// <summary>A checkpoint folder to resume from, or "latest" for the newest under <see cref="OutputDirectory"/> (none: start afresh).</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>Compute precision.</summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Float32;

    /// <summary>Recompute each decoder layer's activations during backward instead of storing them.</summary>
    public bool GradientCheckpointing { get; init; }

    /// <summary>Give every model parameter that is not trainable requires_grad = false for the run (restored after).</summary>
    public bool FreezeOtherParameters { get; init; } = true;

    /// <summary>Draw loss.png at the end (needs <see cref="OutputDirectory"/>).</summary>
    public bool PlotLossCurve { get; init; } = true;

    /// <summary>Names the run in events; a fresh id when null.</summary>
    public string? RunId { get; init; }

    /// <summary>Checks the options, naming the first bad one.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"training option {name} = {value}: {rule}");
        }
        Require(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Require(MaxSteps is null or >= 1, nameof(MaxSteps), MaxSteps!, "must be at least 1");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Require(GradientAccumulationSteps >= 1, nameof(GradientAccumulationSteps), GradientAccumulationSteps, "must be at least 1");
        Require(LearningRate >= 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be a finite number ≥ 0");
        Require(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must be ≥ 0");
        Require(Optimizers.Names.Contains(Optimizer), nameof(Optimizer), Optimizer, $"must be one of {string.Join(", ", Optimizers.Names)}");
        Require(Beta1 is >= 0 and < 1, nameof(Beta1), Beta1, "must be in [0, 1)");
        Require(Beta2 is >= 0 and < 1, nameof(Beta2), Beta2, "must be in [0, 1)");
        Require(Epsilon > 0, nameof(Epsilon), Epsilon, "must be > 0");
        Require(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "must be ≥ 0");
        Require(WarmupRatio is >= 0 and <= 1, nameof(WarmupRatio), WarmupRatio, "must be in [0, 1]");
        Require(LogEvery >= 1, nameof(LogEvery), LogEvery, "must be at least 1");
        Require(EvalEvery >= 0, nameof(EvalEvery), EvalEvery, "must be ≥ 0");
        Require(EvalBatchSize is null or >= 1, nameof(EvalBatchSize), EvalBatchSize!, "must be at least 1");
        Require(CheckpointEvery >= 0, nameof(CheckpointEvery), CheckpointEvery, "must be ≥ 0");
        Require(SaveTotalLimit is null or >= 1, nameof(SaveTotalLimit), SaveTotalLimit!, "must be at least 1");
        if (EarlyStopping is { } es) Require(es.Patience >= 1, "EarlyStopping.Patience", es.Patience, "must be at least 1");
        if (MetricForBestModel is not null && EarlyStopping is { } stopping && stopping.Metric != BestModelCriterion.Metric)
            throw new ArgumentException($"training option MetricForBestModel = {MetricForBestModel}: early stopping watches {stopping.Metric}; one run has one best-model metric, so give it once");
        if (LoadBestModelAtEnd)
        {
            // Every evaluation must have a checkpoint, or the best one could have nothing to load. (Hugging Face
            // asks only that saves fall on evaluations, and then never marks an evaluation without a save as best.)
            Require(EvalEvery >= 1, nameof(EvalEvery), EvalEvery, "must be at least 1 with loadBestModelAtEnd (the best model is chosen among evaluations)");
            Require(CheckpointEvery >= 1 && EvalEvery % CheckpointEvery == 0, nameof(CheckpointEvery), CheckpointEvery,
                $"must divide evalEvery ({EvalEvery}) with loadBestModelAtEnd, so that every evaluation has its checkpoint");
        }
        bool wantsDisk = CheckpointEvery > 0 || CheckpointEachEpoch || ResumeFrom == "latest";
        if (wantsDisk && OutputDirectory is null)
            throw new ArgumentException("training options ask for checkpoints (CheckpointEvery, CheckpointEachEpoch or ResumeFrom = \"latest\") but OutputDirectory is not set");
    }
}
