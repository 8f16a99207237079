namespace PeftHost.Core.Peft;

/// <summary>One training run of an adapter, as its model card reports it.</summary>
/// <param name="Data">The training data (the dataset's name).</param>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="FinalLoss">The last logged training loss, if any.</param>
public sealed record AdapterTrainingRun(string Data, int Steps, double? FinalLoss);

/// <summary>
/// What an adapter went through in this session — its training runs and its latest evaluation —
/// so that a saved adapter folder can describe itself in its model card.
/// </summary>
public sealed class AdapterHistory
{
    private readonly List<AdapterTrainingRun> _runs = [];

    /// <summary>The training runs, oldest first.</summary>
    public IReadOnlyList<AdapterTrainingRun> Runs => _runs;

    /// <summary>The metrics of the latest evaluation, and of which data; null before any.</summary>
    public (string Data, IReadOnlyDictionary<string, double> Metrics)? LatestEvaluation { get; private set; }

    /// <summary>Records a finished training run.</summary>
    public void AddRun(AdapterTrainingRun run) => _runs.Add(run);

    /// <summary>Records an evaluation's metrics (replacing the previous ones).</summary>
    public void SetEvaluation(string data, IReadOnlyDictionary<string, double> metrics) => LatestEvaluation = (data, metrics);
}
