using PeftHost.Core.Data;
using PeftHost.Core.Training.Checkpointing;
using PeftHost.Core.Training.Optimization;
using PeftHost.Core.Training.Precision;
using TorchSharp.Modules;

namespace PeftHost.Core.Training;

/// <summary>The mutable state of one training run: weights and optimizer, schedule, data position, histories, requests from callbacks.</summary>
internal sealed class TrainingRun : IDisposable
{
    private readonly TrainingOptions _options;
    private readonly TrainingModeScope _mode;

    public TrainingRun(string runId, TrainingOptions options, IEnumerable<(string Name, Parameter Parameter)> parameters,
        IBatchSource loader, int totalSteps, int warmupSteps, TrainingModeScope mode)
    {
        RunId = runId;
        _options = options;
        _mode = mode;
        Loader = loader;
        TotalSteps = totalSteps;
        Schedule = new LearningRateSchedule(options.Schedule, totalSteps, warmupSteps);
        PeakLearningRate = options.LearningRate;
        Weights = new MasterWeights(parameters);
        Optimizer = Optimizers.Create(options.Optimizer, ParameterGroup.DecayAndNoDecay(Weights.Optimized, options.WeightDecay), options.Beta1, options.Beta2, options.Epsilon);
        // The best metric is tracked whenever validation runs (Hugging Face's best_metric, eval_loss by default);
        // patience ends the run only when early stopping was asked for.
        Best = new EarlyStoppingTracker(options.BestModelCriterion);
        StopsEarly = options.EarlyStopping is not null;
    }

    public string RunId { get; }
    public int TotalSteps { get; }
    public LearningRateSchedule Schedule { get; }
    public double PeakLearningRate { get; set; }
    public IBatchSource Loader { get; }
    public MasterWeights Weights { get; private set; }
    public IOptimizer Optimizer { get; }
    /// <summary>The best value of the watched metric (early stopping's, else eval_loss) and its step.</summary>
    public EarlyStoppingTracker Best { get; }
    /// <summary>Whether running out of patience ends the run.</summary>
    public bool StopsEarly { get; }
    public int GlobalStep { get; set; }
    public List<double> Losses { get; } = [];
    public List<EvaluationRecord> Evaluations { get; } = [];
    public string? LastCheckpoint { get; set; }
    /// <summary>The checkpoint written at the best evaluation's step (never rotated away), if any.</summary>
    public string? BestCheckpoint { get; set; }
    public int? LastCheckpointStep { get; set; }
    public string? StopReason { get; set; }
    public bool CheckpointRequested { get; set; }

    /// <summary>Fractional epoch of the data position.</summary>
    public double Epoch => Loader.Position.Epoch + (Loader.BatchesPerEpoch is int batches ? (double)Loader.Position.Batch / batches : 0);

    /// <summary>Binds new trainable parameters, carrying optimizer state over by name.</summary>
    public void Rebind(IEnumerable<(string Name, Parameter Parameter)> parameters)
    {
        var list = parameters.ToList();
        Trainer.CheckParameters(list);
        var fresh = new MasterWeights(list);
        Optimizer.Rebind(ParameterGroup.DecayAndNoDecay(fresh.Optimized, _options.WeightDecay));
        Weights.Dispose();
        Weights = fresh;
        _mode.Track(list.Select(p => p.Parameter));
    }

    /// <summary>The state to put in a checkpoint now.</summary>
    public TrainerState ToState() => new()
    {
        RunId = RunId,
        GlobalStep = GlobalStep,
        TotalSteps = TotalSteps,
        WarmupSteps = Schedule.WarmupSteps,
        Schedule = Schedule.Kind.ToString(),
        PeakLearningRate = PeakLearningRate,
        Epoch = Loader.Position.Epoch,
        BatchInEpoch = Loader.Position.Batch,
        ShuffleSeed = _options.Seed,
        TrainExamples = Loader.ExampleCount,
        BatchSize = _options.BatchSize,
        GradientAccumulationSteps = _options.GradientAccumulationSteps,
        BestMetric = Best.Best,
        BestStep = Best.BestStep,
        BestModelCheckpoint = BestCheckpoint is null ? null : Path.GetFileName(BestCheckpoint),
        EvaluationsWithoutImprovement = Best.EvaluationsWithoutImprovement,
        TorchCpuRngState = Convert.ToBase64String(TorchRng.CaptureCpu()),
        Losses = [.. Losses],
        Evaluations = [.. Evaluations],
    };

    /// <summary>Takes over a checkpoint's state (the weights and optimizer were loaded by <see cref="TrainingCheckpoint"/>).</summary>
    public void Restore(TrainerState state, string path)
    {
        var problems = new List<string>();
        int? examples = Loader.ExampleCount;
        if (state.TrainExamples != examples) problems.Add($"training examples {Describe(state.TrainExamples)} → {Describe(examples)}");
        if (state.BatchSize != _options.BatchSize) problems.Add($"batch size {state.BatchSize} → {_options.BatchSize}");
        if (state.GradientAccumulationSteps != _options.GradientAccumulationSteps)
            problems.Add($"gradient accumulation {state.GradientAccumulationSteps} → {_options.GradientAccumulationSteps}");
        if (state.ShuffleSeed != _options.Seed) problems.Add($"seed {state.ShuffleSeed} → {_options.Seed}");
        if (problems.Count > 0)
            throw new InvalidOperationException($"cannot resume from {path}: the run differs from the checkpoint's ({string.Join("; ", problems)})");
        var rng = state.CheckRestorable(path, Loader.BatchesPerEpoch);
        GlobalStep = state.GlobalStep;
        PeakLearningRate = state.PeakLearningRate;
        Loader.Position = new DataPosition(state.Epoch, state.BatchInEpoch);
        Losses.Clear();
        Losses.AddRange(state.Losses);
        Evaluations.Clear();
        Evaluations.AddRange(state.Evaluations);
        Best.Best = state.BestMetric;
        Best.BestStep = state.BestStep;
        Best.EvaluationsWithoutImprovement = state.EvaluationsWithoutImprovement;
        if (rng is not null) TorchRng.RestoreCpu(rng);
        LastCheckpoint = path;
        LastCheckpointStep = state.GlobalStep;
        BestCheckpoint = state.BestModelCheckpoint is { } best ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, best) : null;
    }

    private static string Describe(int? examples) => examples?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "streamed";

    public void Dispose()
    {
        Optimizer.Dispose();
        Weights.Dispose();
    }
}
