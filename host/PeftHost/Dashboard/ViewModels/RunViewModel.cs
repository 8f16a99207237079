using System.Globalization;
using System.Text.RegularExpressions;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Core.Recipes;
using PeftHost.Core.Recipes.Api;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>Where the Run panel's run stands.</summary>
public enum RunState
{
    /// <summary>No recipe has run yet.</summary>
    Idle,

    /// <summary>A recipe is running.</summary>
    Running,

    /// <summary>Ctrl-C was pressed: the run stops at the next step boundary, after a checkpoint.</summary>
    Stopping,

    /// <summary>The recipe ran to its end.</summary>
    Succeeded,

    /// <summary>The recipe failed.</summary>
    Failed,

    /// <summary>The run was stopped.</summary>
    Cancelled,
}

/// <summary>A table the recipe showed with <c>table(rows, { title })</c>.</summary>
/// <param name="Title">Its title, or null.</param>
/// <param name="Columns">Its columns.</param>
/// <param name="Rows">Its cells, one list per row.</param>
public sealed record RecipeTable(string? Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<TableFormatter.Cell>> Rows);

/// <summary>One row of the results table: the metrics of an evaluation.</summary>
/// <param name="Step">The step it was taken at.</param>
/// <param name="Metrics">Metric name → value.</param>
public sealed record ResultRow(int Step, IReadOnlyDictionary<string, double> Metrics);

/// <summary>
/// The Run panel: the current recipe run's progress (step, epoch, ETA), the training and evaluation
/// loss series, learning rate, gradient norm, tokens/s, memory, trainable parameters and the
/// results (one row per evaluation, then the recipe's own <c>table(...)</c>s). Fed from the job and
/// training events; a new recipe job starts it afresh, and a new training run inside the same
/// recipe restarts the series. Progress moves on every step (<see cref="TrainingPhaseEvent"/>);
/// the loss is the latest logged one (<see cref="TrainingStepEvent"/>, the mean over the steps
/// since the previous log), the same number the chart's last point and title show.
/// </summary>
public sealed partial class RunViewModel : IEventSink
{
    private readonly List<(double X, double Y)> _trainLoss = [];
    private readonly List<(double X, double Y)> _evalLoss = [];
    private readonly List<ResultRow> _results = [];
    private readonly List<RecipeTable> _tables = [];

    /// <summary>Where the run stands.</summary>
    public RunState State { get; private set; } = RunState.Idle;

    /// <summary>The recipe job's name (<c>tiny-train.js</c>), or null before the first run.</summary>
    public string? RecipeName { get; private set; }

    /// <summary>The training run's id, once one reported.</summary>
    public string? RunId { get; private set; }

    /// <summary>What the training run is doing (training, evaluating, saving), or null when none is going.</summary>
    public TrainingPhase? Phase { get; private set; }

    /// <summary>While evaluating: validation batches scored and in all (0 of 0 while it starts).</summary>
    public (int Done, int Total) EvaluationProgress { get; private set; }

    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; private set; }

    /// <summary>Optimizer steps planned (0 until the first step event).</summary>
    public int TotalSteps { get; private set; }

    /// <summary>Fractional epoch.</summary>
    public double Epoch { get; private set; }

    /// <summary>Estimated time to the last step, when known.</summary>
    public TimeSpan? Eta { get; private set; }

    /// <summary>Wall time of the training run so far.</summary>
    public TimeSpan Elapsed { get; private set; }

    /// <summary>The latest logged training loss (the chart's last point).</summary>
    public double? Loss { get; private set; }

    /// <summary>The latest evaluation loss.</summary>
    public double? EvalLoss { get; private set; }

    /// <summary>The latest learning rate.</summary>
    public double? LearningRate { get; private set; }

    /// <summary>The latest gradient norm (before clipping).</summary>
    public double? GradNorm { get; private set; }

    /// <summary>The latest throughput.</summary>
    public double? TokensPerSecond { get; private set; }

    /// <summary>Trainable parameters (from the run's <c>printTrainableParameters</c> line), when reported.</summary>
    public long? TrainableParameters { get; private set; }

    /// <summary>All parameters, alongside <see cref="TrainableParameters"/>.</summary>
    public long? AllParameters { get; private set; }

    /// <summary>The newest checkpoint folder.</summary>
    public string? LastCheckpoint { get; private set; }

    /// <summary>Why the training run ended, once it has.</summary>
    public TrainingStopReason? StopReason { get; private set; }

    /// <summary>How the recipe job ended (its failure or summary), once it has.</summary>
    public string? Message { get; private set; }

    /// <summary>A long recipe step other than training in progress (<c>generate 12/32 · 150 tok/s</c>), or null.</summary>
    public string? Activity { get; private set; }

    /// <summary>The latest memory sample.</summary>
    public MemorySample? Memory { get; private set; }

    /// <summary>The training loss series (step, loss).</summary>
    public IReadOnlyList<(double X, double Y)> TrainLossSeries => _trainLoss;

    /// <summary>The evaluation loss series (step, eval_loss).</summary>
    public IReadOnlyList<(double X, double Y)> EvalLossSeries => _evalLoss;

    /// <summary>The results table's rows, oldest first.</summary>
    public IReadOnlyList<ResultRow> Results => _results;

    /// <summary>The recipe's own tables, in the order it showed them.</summary>
    public IReadOnlyList<RecipeTable> RecipeTables => _tables;

    /// <summary>Progress in [0, 1].</summary>
    public double Fraction => TotalSteps <= 0 ? (State == RunState.Succeeded ? 1 : 0) : Math.Clamp((double)Step / TotalSteps, 0, 1);

    /// <summary>True while a run is going (running or stopping).</summary>
    public bool IsActive => State is RunState.Running or RunState.Stopping;

    /// <inheritdoc />
    public bool Apply(IHostEvent e)
    {
        switch (e)
        {
            case JobStartedEvent { Kind: JobKind.Recipe } started:
                Reset();
                State = RunState.Running;
                RecipeName = started.Name;
                return true;
            case JobCancellingEvent { Kind: JobKind.Recipe }:
                if (State == RunState.Running) State = RunState.Stopping;
                return true;
            case JobFinishedEvent { Kind: JobKind.Recipe } finished:
                State = finished.Outcome switch
                {
                    JobOutcome.Succeeded => RunState.Succeeded,
                    JobOutcome.Cancelled => RunState.Cancelled,
                    _ => RunState.Failed,
                };
                Message = finished.Message;
                Phase = null;
                Elapsed = Elapsed > finished.Elapsed ? Elapsed : finished.Elapsed;
                Eta = null;
                return true;
            case TrainingStepEvent step:
                OnStep(step);
                return true;
            case TrainingPhaseEvent phase:
                OnPhase(phase);
                return true;
            case RecipeTableEvent table:
                _tables.Add(new RecipeTable(table.Title, table.Columns, table.Rows));
                return true;
            case EvaluationEvent evaluation:
                if (Phase == TrainingPhase.Evaluating) Phase = TrainingPhase.Training;
                _results.Add(new ResultRow(evaluation.Step, evaluation.Metrics));
                if (evaluation.Metrics.TryGetValue("eval_loss", out double evalLoss))
                {
                    EvalLoss = evalLoss;
                    _evalLoss.Add((evaluation.Step, evalLoss));
                }
                return true;
            case CheckpointEvent checkpoint:
                if (Phase == TrainingPhase.Saving) Phase = TrainingPhase.Training;
                LastCheckpoint = checkpoint.Path;
                return true;
            case TrainingFinishedEvent done:
                StopReason = done.Reason;
                Phase = null;
                Step = done.Step;
                // The final loss is the last single step's; the header keeps the logged loss the chart shows.
                if (Loss is null && done.FinalLoss is double loss)
                {
                    Loss = loss;
                    _trainLoss.Add((done.Step, loss));
                }
                if (done.LastCheckpoint is not null) LastCheckpoint = done.LastCheckpoint;
                Elapsed = done.Elapsed;
                Eta = done.Reason == TrainingStopReason.Completed ? TimeSpan.Zero : null;
                return true;
            case RecipeProgressEvent progress:
                Activity = progress.Final ? null
                    : string.Create(CultureInfo.InvariantCulture, $"{progress.Step} {progress.Done}/{progress.Total} · {progress.UnitsPerSecond:N0}/s");
                return true;
            case LogEvent log when TrainableLine().Match(log.Message) is { Success: true } m:
                TrainableParameters = long.Parse(m.Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture);
                AllParameters = long.Parse(m.Groups[2].Value.Replace(",", ""), CultureInfo.InvariantCulture);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Takes a memory sample (the dashboard samples once a second).</summary>
    public void SetMemory(MemorySample sample) => Memory = sample;

    /// <summary><c>● running tiny-train.js</c>, <c>✓ finished tiny-train.js in 0:00:12</c>, <c>✗ failed: …</c>.</summary>
    public string StatusText => State switch
    {
        RunState.Idle => "no run yet: pick a recipe in Recipes and press F5",
        RunState.Running => $"● running {RecipeName}",
        RunState.Stopping => $"■ stopping {RecipeName}: checkpoint at the next step boundary…",
        RunState.Succeeded => $"✓ finished {RecipeName} in {DisplayFormat.Duration(Elapsed)}" + (StopReason is { } r && r != TrainingStopReason.Completed ? $" (training {Describe(r)})" : ""),
        RunState.Cancelled => $"■ stopped {RecipeName} at step {Step}" + (LastCheckpoint is null ? "" : $", checkpoint {Path.GetFileName(LastCheckpoint)}"),
        _ => $"✗ {RecipeName} failed: {Message}",
    };

    /// <summary>
    /// <c>training · step 12/40 · epoch 0.30 · ETA 0:00:08</c>; while evaluating the batches replace
    /// the ETA (<c>evaluating 3/10 · step 12/40 · epoch 0.30</c>), while saving <c>saving a checkpoint · …</c>.
    /// </summary>
    public string ProgressText
    {
        get
        {
            if (TotalSteps <= 0 && Step == 0) return IsActive ? Activity ?? "waiting for the first training step…" : "";
            string steps = string.Create(CultureInfo.InvariantCulture, $"step {Step}/{TotalSteps} · epoch {Epoch:0.00}");
            if (!IsActive || Phase is null) return Activity ?? $"{steps} · elapsed {DisplayFormat.Duration(Elapsed)}";
            return Phase switch
            {
                TrainingPhase.Evaluating => (EvaluationProgress.Total > 0 ? $"evaluating {EvaluationProgress.Done}/{EvaluationProgress.Total}" : "evaluating…") + $" · {steps}",
                TrainingPhase.Saving => $"saving a checkpoint · {steps}",
                _ => $"training · {steps} · {DisplayFormat.Eta(Eta)}",
            };
        }
    }

    /// <summary><c>loss 2.3141 · eval 2.4100 · lr 3.00e-04 · grad 0.8120 · 1,234 tok/s</c>.</summary>
    public string MetricsText
    {
        get
        {
            var parts = new List<string>
            {
                "loss " + (Loss is double l ? DisplayFormat.Metric(l) : "-"),
                "eval " + (EvalLoss is double el ? DisplayFormat.Metric(el) : "-"),
                "lr " + (LearningRate is double lr ? DisplayFormat.LearningRate(lr) : "-"),
                "grad " + (GradNorm is double g ? DisplayFormat.Metric(g) : "-"),
                TokensPerSecond is double t ? DisplayFormat.TokensPerSecond(t) : "- tok/s",
            };
            return string.Join(" · ", parts);
        }
    }

    /// <summary><c>RSS 412.3 MiB · tensors 380.1 MiB · trainable 8,192 of 262,144 (3.13%)</c>.</summary>
    public string MemoryText
    {
        get
        {
            var parts = new List<string>
            {
                "RSS " + (Memory?.ResidentBytes is long rss ? DisplayFormat.Bytes(rss) : "?"),
                "tensors " + (Memory?.NativeHeapBytes is long heap ? DisplayFormat.Bytes(heap) : "?"),
            };
            if (TrainableParameters is long t && AllParameters is long a && a > 0)
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"trainable {DisplayFormat.Count(t)} of {DisplayFormat.Count(a)} ({100.0 * t / a:0.00}%)"));
            else
                parts.Add("trainable -");
            return string.Join(" · ", parts);
        }
    }

    /// <summary>The evaluation table's columns: <c>step</c>, then the metrics (eval_loss first).</summary>
    public IReadOnlyList<string> ResultColumns =>
        ["step", .. _results.SelectMany(r => r.Metrics.Keys).Distinct().OrderBy(k => k == "eval_loss" ? 0 : k == "eval_perplexity" ? 1 : 2).ThenBy(k => k, StringComparer.Ordinal)];

    /// <summary>
    /// The results as text: the evaluations (a header, a rule and one line per evaluation, newest
    /// last), then each of the recipe's own tables under its title, laid out as the recipe output prints them.
    /// </summary>
    public string FormatResults()
    {
        var tables = new List<string>();
        if (_results.Count > 0)
        {
            var columns = ResultColumns;
            var rows = _results.Select(r => (IReadOnlyList<TableFormatter.Cell>)columns.Select(c => new TableFormatter.Cell(
                c == "step" ? r.Step.ToString(CultureInfo.InvariantCulture) : r.Metrics.TryGetValue(c, out double v) ? DisplayFormat.Metric(v) : "-", IsNumber: true)).ToList()).ToList();
            tables.Add(TableFormatter.Format(columns, rows, "evaluations"));
        }
        else if (_tables.Count == 0) return StopReason is null ? "no evaluations yet" : "the run made no evaluations";
        tables.AddRange(_tables.Select(t => TableFormatter.Format(t.Columns, t.Rows, t.Title ?? "table")));
        return string.Join("\n\n", tables);
    }

    private void OnStep(TrainingStepEvent step)
    {
        Follow(step.RunId);
        Phase ??= TrainingPhase.Training;
        Step = step.Step;
        TotalSteps = step.TotalSteps;
        Epoch = step.Epoch;
        Eta = step.Eta;
        Elapsed = step.Elapsed;
        Loss = step.Loss;
        LearningRate = step.LearningRate;
        GradNorm = step.GradNorm;
        TokensPerSecond = step.TokensPerSecond;
        StopReason = null;
        _trainLoss.Add((step.Step, step.Loss));
    }

    private void OnPhase(TrainingPhaseEvent e)
    {
        Follow(e.RunId);
        Phase = e.Phase;
        EvaluationProgress = e.Phase == TrainingPhase.Evaluating ? (e.Done, e.Total) : (0, 0);
        Step = e.Step;
        TotalSteps = e.TotalSteps;
        Epoch = e.Epoch;
        Elapsed = e.Elapsed;
        Eta = e.Eta;
        StopReason = null;
    }

    /// <summary>Takes <paramref name="runId"/> as the run shown; a second train() in the same recipe gets its own curves.</summary>
    private void Follow(string runId)
    {
        if (RunId is not null && RunId != runId)
        {
            _trainLoss.Clear();
            _evalLoss.Clear();
            Loss = EvalLoss = null;
        }
        if (State is RunState.Idle) State = RunState.Running;
        RunId = runId;
    }

    private void Reset()
    {
        RunId = null;
        Step = TotalSteps = 0;
        Epoch = 0;
        Eta = null;
        Elapsed = TimeSpan.Zero;
        Loss = EvalLoss = LearningRate = GradNorm = TokensPerSecond = null;
        TrainableParameters = AllParameters = null;
        LastCheckpoint = null;
        StopReason = null;
        Message = null;
        Activity = null;
        Phase = null;
        EvaluationProgress = (0, 0);
        _trainLoss.Clear();
        _evalLoss.Clear();
        _results.Clear();
        _tables.Clear();
    }

    private static string Describe(TrainingStopReason reason) => reason switch
    {
        TrainingStopReason.EarlyStopped => "stopped early",
        TrainingStopReason.StoppedByHandler => "stopped by the recipe",
        TrainingStopReason.Cancelled => "cancelled",
        TrainingStopReason.Diverged => "diverged",
        _ => "completed",
    };

    [GeneratedRegex(@"trainable params: ([\d,]+) \|\| all params: ([\d,]+)")]
    private static partial Regex TrainableLine();
}
