using TorchSharp.Modules;

namespace PeftHost.Core.Training;

/// <summary>
/// What a step-boundary callback sees and may change, between two optimizer steps: the host
/// applies plugin hot reloads here (rebinding the trainable parameters) and recipe handlers
/// adjust the learning rate or stop the run. Callbacks run on the training thread; work from
/// other threads must be queued and applied here.
/// </summary>
public sealed class StepBoundaryContext
{
    private readonly TrainingRun _run;

    internal StepBoundaryContext(TrainingRun run, int step, double loss, double learningRate, IReadOnlyDictionary<string, double>? evaluation)
    {
        _run = run;
        Step = step;
        Loss = loss;
        LearningRate = learningRate;
        Evaluation = evaluation;
    }

    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; }

    /// <summary>Steps the run will take.</summary>
    public int TotalSteps => _run.TotalSteps;

    /// <summary>The loss of the step just taken.</summary>
    public double Loss { get; }

    /// <summary>The learning rate the step just taken used.</summary>
    public double LearningRate { get; }

    /// <summary>The metrics of the evaluation run at this boundary, or null when there was none.</summary>
    public IReadOnlyDictionary<string, double>? Evaluation { get; }

    /// <summary>The run's id.</summary>
    public string RunId => _run.RunId;

    /// <summary>
    /// The peak learning rate the schedule scales; setting it changes the learning rate from the
    /// next step on (the schedule's shape is kept). It is saved in checkpoints.
    /// </summary>
    public double PeakLearningRate
    {
        get => _run.PeakLearningRate;
        set
        {
            if (!(value >= 0) || !double.IsFinite(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "the learning rate must be a finite number ≥ 0");
            _run.PeakLearningRate = value;
        }
    }

    /// <summary>True once some callback asked to stop.</summary>
    public bool StopRequested => _run.StopReason is not null;

    /// <summary>Ends the run after this boundary (a checkpoint is written when the run has an output folder).</summary>
    public void Stop(string reason) => _run.StopReason ??= reason;

    /// <summary>Writes a checkpoint at this boundary (when the run has an output folder).</summary>
    public void RequestCheckpoint() => _run.CheckpointRequested = true;

    /// <summary>
    /// Replaces the trainable parameters (after a plugin reload re-created the adapters). Optimizer
    /// moments carry over for names whose shape is unchanged.
    /// </summary>
    public void ReplaceTrainableParameters(IEnumerable<(string Name, Parameter Parameter)> parameters) => _run.Rebind(parameters);
}
