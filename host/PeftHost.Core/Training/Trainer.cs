using System.Diagnostics;
using PeftHost.Core.Data;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Runtime;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training.Checkpointing;
using PeftHost.Core.Training.Metrics;
using PeftHost.Core.Training.Optimization;
using PeftHost.Core.Training.Precision;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Training;

/// <summary>
/// Trains an explicit list of named parameters of a <see cref="CausalLanguageModel"/> (a PEFT
/// model passes its adapters' parameters; full fine-tuning passes them all) on a tokenized
/// dataset with AdamW (float32 or 8-bit state), a warm-up schedule, gradient accumulation and clipping. It logs to the
/// event bus, <c>metrics.jsonl</c> and TensorBoard event files, evaluates and stops early on a validation metric, writes
/// resumable checkpoints, guards against NaN/Inf, stops cleanly on cancellation, and calls the
/// step-boundary callbacks between steps (where the host applies plugin reloads and recipe handlers).
/// </summary>
public sealed class Trainer
{
    private readonly CausalLanguageModel _model;
    private readonly List<(string Name, Parameter Parameter)> _parameters;
    private readonly EventBus? _events;

    /// <summary>Creates a trainer; nothing runs until <see cref="Train"/>.</summary>
    /// <param name="model">The model (its device is where training happens).</param>
    /// <param name="trainableParameters">The parameters to train, by name (names key checkpoints and optimizer state).</param>
    /// <param name="options">The run's settings.</param>
    /// <param name="events">The host's event bus; progress, evaluations and checkpoints are published there.</param>
    public Trainer(CausalLanguageModel model, IEnumerable<(string Name, Parameter Parameter)> trainableParameters, TrainingOptions options, EventBus? events = null)
    {
        _model = model;
        _parameters = trainableParameters.ToList();
        Options = options;
        _events = events;
        CheckParameters(_parameters);
    }

    /// <summary>The run's settings.</summary>
    public TrainingOptions Options { get; }

    /// <summary>Called in order after every optimizer step (after logging and evaluation, before the step's checkpoint).</summary>
    public IList<Action<StepBoundaryContext>> StepBoundaryCallbacks { get; } = new List<Action<StepBoundaryContext>>();

    /// <summary>
    /// Writes the trained adapters in PEFT's layout into a checkpoint folder being staged (its argument), so every
    /// checkpoint is also an adapter folder; null: checkpoints hold the trainer's own files only.
    /// </summary>
    public Action<string>? WriteAdaptersInto { get; set; }

    /// <summary>Extra metrics computed at every evaluation, next to eval_loss and eval_perplexity.</summary>
    public IList<IEvaluator> Evaluators { get; } = new List<IEvaluator>();

    /// <summary>
    /// How <c>eval_loss</c> is computed when the validation set's own examples are not the measure: text data is
    /// scored whole (strided windows), as <c>evaluate</c> scores it, so the two report the same number. Null: the
    /// token loss of the validation examples.
    /// </summary>
    /// <remarks>The callback hears the cancellation token and the evaluation progress (units done, units in all).</remarks>
    public Func<CancellationToken, Action<int, int>, PerplexityResult>? ValidationLoss { get; set; }

    /// <summary>
    /// Runs training on <paramref name="train"/>, evaluating on <paramref name="validation"/> when given.
    /// Returns when the steps are done, early stopping or a callback ends the run, or
    /// <paramref name="cancellation"/> fires (at a step boundary, after writing a checkpoint).
    /// Throws <see cref="TrainingDivergedException"/> when a loss, gradient or parameter turns non-finite.
    /// </summary>
    public TrainingResult Train(ITrainingData train, TokenizedDataset? validation = null, CancellationToken cancellation = default)
    {
        Options.Validate();
        CheckPrecision();
        NativeRuntime.Initialize();
        var events = _events ?? new EventBus();
        string runId = Options.RunId ?? $"run-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";
        int padId = _model.Config.PadTokenId ?? (_model.Config.EosTokenIds.Count > 0 ? _model.Config.EosTokenIds[0] : 0);

        var loader = train.Batches(Options.BatchSize, Options.Seed, Options.Shuffle);
        using var openFile = loader as IDisposable; // a streamed dataset's file
        int totalSteps = Options.MaxSteps ?? (loader.BatchesPerEpoch is int batches
            ? Options.Epochs * ((batches + Options.GradientAccumulationSteps - 1) / Options.GradientAccumulationSteps)
            : throw new ArgumentException($"'{train.Name}' is streamed: its length is not known before it is read, so give maxSteps"));
        int warmup = Options.WarmupSteps > 0 ? Options.WarmupSteps : LearningRateSchedule.WarmupFromRatio(Options.WarmupRatio, totalSteps);

        using var mode = new TrainingModeScope(_model, _parameters.Select(p => p.Parameter).ToArray(), Options.FreezeOtherParameters, Options.GradientCheckpointing);
        using var run = new TrainingRun(runId, Options, _parameters, loader, totalSteps, warmup, mode);
        var store = Options.OutputDirectory is null ? null : new CheckpointStore(Path.Combine(Options.OutputDirectory, "checkpoints"));
        store?.RemoveStaleStaging();
        string? metricsPath = Options.OutputDirectory is null ? null : Path.Combine(Options.OutputDirectory, MetricsLog.FileName);
        Resume(run, store, metricsPath, events);
        using var metrics = metricsPath is null ? null : new MetricsLog(events, runId, metricsPath);
        using var tensorBoard = Options.OutputDirectory is not null && Options.TensorBoard ? new TensorBoardLog(events, runId, Options.OutputDirectory) : null;

        var step = new TrainingStep(_model, new BatchCollator(padId, _model.Device), Options);
        var session = Stopwatch.StartNew();
        var window = new LogWindow();
        int firstStep = run.GlobalStep;
        var reason = TrainingStopReason.Completed;
        string? message = null;
        try
        {
            while (run.GlobalStep < run.TotalSteps)
            {
                if (cancellation.IsCancellationRequested) { reason = TrainingStopReason.Cancelled; break; }
                int epochBefore = run.Loader.Position.Epoch;
                double lr = run.Schedule.LearningRate(run.PeakLearningRate, run.GlobalStep);
                var outcome = step.Run(run, lr);
                run.GlobalStep++;
                run.Losses.Add(outcome.Loss);
                window.Add(outcome, lr);
                if (run.GlobalStep % Options.LogEvery == 0 || run.GlobalStep == run.TotalSteps)
                    events.Publish(window.Flush(run, session.Elapsed, firstStep));
                Phase(run, events, TrainingPhase.Training, session.Elapsed, firstStep);

                IReadOnlyDictionary<string, double>? evaluated = null;
                if (validation is not null && Options.EvalEvery > 0 && run.GlobalStep % Options.EvalEvery == 0)
                {
                    try
                    {
                        // Patience running out at the last step cuts nothing short: the run completed.
                        if (Evaluate(run, validation, padId, events, cancellation, Progress(run, events, session, firstStep)) is { } stop && run.GlobalStep < run.TotalSteps)
                        {
                            reason = TrainingStopReason.EarlyStopped;
                            message = stop;
                        }
                        evaluated = run.Evaluations[^1].Metrics;
                    }
                    catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { } // checkpoint below instead
                }

                var boundary = new StepBoundaryContext(run, run.GlobalStep, outcome.Loss, lr, evaluated);
                foreach (var callback in StepBoundaryCallbacks) callback(boundary);
                if (run.StopReason is not null && reason == TrainingStopReason.Completed)
                {
                    reason = TrainingStopReason.StoppedByHandler;
                    message = run.StopReason;
                }
                if (reason == TrainingStopReason.Completed && cancellation.IsCancellationRequested) reason = TrainingStopReason.Cancelled;

                bool epochEnded = run.Loader.Position.Epoch > epochBefore;
                bool periodic = (Options.CheckpointEvery > 0 && run.GlobalStep % Options.CheckpointEvery == 0) || (Options.CheckpointEachEpoch && epochEnded);
                if (store is not null && (periodic || run.CheckpointRequested || reason is TrainingStopReason.Cancelled or TrainingStopReason.StoppedByHandler))
                    SaveCheckpoint(run, store, events, session.Elapsed, firstStep);
                if (reason != TrainingStopReason.Completed) break;
            }
            if (reason == TrainingStopReason.Cancelled && store is not null) SaveCheckpoint(run, store, events, session.Elapsed, firstStep);
            if (reason is TrainingStopReason.Completed or TrainingStopReason.EarlyStopped)
            {
                if (validation is not null && run.Evaluations.LastOrDefault()?.Step != run.GlobalStep)
                    Evaluate(run, validation, padId, events, cancellation, Progress(run, events, session, firstStep), trackEarlyStopping: false);
                if (store is not null && (Options.CheckpointEvery > 0 || Options.CheckpointEachEpoch)) SaveCheckpoint(run, store, events, session.Elapsed, firstStep);
                if (Options.LoadBestModelAtEnd) LoadBestModel(run, events);
            }
            if (reason == TrainingStopReason.Cancelled) message ??= "cancelled";
        }
        catch (TrainingDivergedException e)
        {
            run.Weights.ZeroGradients();
            Finish(run, events, TrainingStopReason.Diverged, e.Message, session.Elapsed);
            throw;
        }
        Finish(run, events, reason, message, session.Elapsed);
        return new TrainingResult(runId, run.GlobalStep, run.TotalSteps, reason, message, run.Losses.ToArray(), run.Evaluations.ToArray(),
            run.LastCheckpoint, run.Best.Best, run.Best.BestStep, run.BestCheckpoint, session.Elapsed) { OptimizerStateBytes = run.Optimizer.StateBytes };
    }

    /// <summary>Checks a trainable-parameter list: not empty, unique names, floating dtypes.</summary>
    internal static void CheckParameters(IReadOnlyList<(string Name, Parameter Parameter)> parameters)
    {
        if (parameters.Count == 0) throw new ArgumentException("there are no trainable parameters");
        var duplicate = parameters.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"trainable parameter '{duplicate.Key}' is listed twice");
        var bad = parameters.FirstOrDefault(p => !p.Parameter.is_floating_point());
        if (bad.Parameter is not null) throw new ArgumentException($"trainable parameter '{bad.Name}' has dtype {bad.Parameter.dtype}; only floating-point parameters can be trained");
    }

    private void CheckPrecision()
    {
        if (Options.Precision != TrainingPrecision.BFloat16) return;
        Bf16Support.EnsureAvailable(_model.Device);
        if (_model.Dtype != ScalarType.BFloat16)
            throw new InvalidOperationException(
                $"bf16 compute needs the model's weights in bfloat16 (they are {_model.Dtype}): load the model with dtype bfloat16 " +
                "before adding adapters; the trainer keeps float32 master copies of the trainable parameters");
    }

    private void Resume(TrainingRun run, CheckpointStore? store, string? metricsPath, EventBus events)
    {
        if (Options.ResumeFrom is null) return;
        string? path = Options.ResumeFrom == "latest" ? store!.Latest() : Options.ResumeFrom;
        if (path is null)
        {
            events.Log(LogLevel.Info, "trainer", $"no checkpoint under {store!.Directory}; starting from step 0");
            return;
        }
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"checkpoint to resume from not found: {path}");
        var state = TrainingCheckpoint.Load(path, run.Weights, run.Optimizer, _model.Device);
        run.Restore(state, path);
        if (state.TotalSteps != run.TotalSteps)
            events.Log(LogLevel.Warning, "trainer", $"the checkpoint planned {state.TotalSteps} steps, this run {run.TotalSteps}: the schedule follows this run");
        if (metricsPath is not null) MetricsLog.TruncateAfter(metricsPath, state.GlobalStep);
        events.Log(LogLevel.Info, "trainer", $"resumed from {path} at step {state.GlobalStep}");
    }

    /// <summary>Runs the validation set and the evaluators; returns why to stop early, or null. <c>progress</c> hears (batches done, batches in all).</summary>
    private string? Evaluate(TrainingRun run, TokenizedDataset validation, int padId, EventBus events, CancellationToken cancellation,
        Action<int, int> progress, bool trackEarlyStopping = true)
    {
        var metrics = new Dictionary<string, double>();
        _model.eval();
        try
        {
            progress(0, 0);
            var loss = ValidationLoss?.Invoke(cancellation, progress)
                ?? DatasetLoss.Evaluate(_model, validation, Options.EvalBatchSize ?? Options.BatchSize, padId, cancellation, progress);
            metrics["eval_loss"] = loss.Loss;
            metrics["eval_perplexity"] = loss.Perplexity;
            using var inference = inference_mode();
            foreach (var evaluator in Evaluators)
                foreach (var (name, value) in evaluator.Evaluate(_model, cancellation)) metrics[name] = value;
        }
        finally { _model.train(); }
        run.Evaluations.Add(new EvaluationRecord(run.GlobalStep, metrics));
        events.Publish(new EvaluationEvent(run.RunId, run.GlobalStep, metrics));
        var tracker = run.Best;
        bool patienceSpent = tracker.Update(metrics, run.GlobalStep);
        if (!trackEarlyStopping || !run.StopsEarly || !patienceSpent) return null;
        return $"{tracker.Options.Metric} did not improve on {tracker.Best:G6} (step {tracker.BestStep}) for {tracker.Options.Patience} evaluations";
    }

    private void SaveCheckpoint(TrainingRun run, CheckpointStore store, EventBus events, TimeSpan elapsed, int firstStep)
    {
        run.CheckpointRequested = false;
        if (run.LastCheckpointStep == run.GlobalStep && run.LastCheckpoint is not null && Directory.Exists(run.LastCheckpoint)) return;
        Phase(run, events, TrainingPhase.Saving, elapsed, firstStep);
        string path = store.PathFor(run.GlobalStep);
        string? previousBest = run.BestCheckpoint;
        if (run.Best.BestStep == run.GlobalStep) run.BestCheckpoint = path;
        try
        {
            TrainingCheckpoint.Save(path, run.Weights, run.Optimizer, run.ToState(), WriteAdaptersInto);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The raw error names a temporary file in a staging folder that is already gone: say
            // which checkpoint failed and that the previous one is still there (it is never touched).
            run.BestCheckpoint = previousBest;
            throw new IOException($"could not write the checkpoint of step {run.GlobalStep} to {path}: {e.Message}"
                + (run.LastCheckpoint is not null && Directory.Exists(run.LastCheckpoint) ? $"; the previous checkpoint {run.LastCheckpoint} is intact" : ""), e);
        }
        run.LastCheckpoint = path;
        run.LastCheckpointStep = run.GlobalStep;
        // As in Hugging Face, the best checkpoint survives rotation once a best-model metric is in play.
        bool keepBest = Options.LoadBestModelAtEnd || Options.MetricForBestModel is not null;
        var removed = store.Prune(Options.SaveTotalLimit, keepBest ? run.BestCheckpoint : null);
        events.Publish(new CheckpointEvent(run.RunId, run.GlobalStep, path, removed));
    }

    /// <summary>Loads the weights of the best evaluation's checkpoint (Hugging Face's load_best_model_at_end).</summary>
    private void LoadBestModel(TrainingRun run, EventBus events)
    {
        var best = run.Best;
        if (run.BestCheckpoint is not { } path || best.BestStep == run.GlobalStep) return;
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"the best checkpoint {path} (step {best.BestStep}) is gone; cannot load the best model");
        TrainingCheckpoint.LoadWeights(path, run.Weights, _model.Device);
        events.Log(LogLevel.Info, "trainer", $"loaded the best model from {path} ({best.Options.Metric} {best.Best:G6} at step {best.BestStep})");
    }

    private void Finish(TrainingRun run, EventBus events, TrainingStopReason reason, string? message, TimeSpan elapsed)
    {
        if (Options.OutputDirectory is not null && Options.PlotLossCurve && run.Losses.Count > 0)
        {
            try { LossCurvePlot.Save(Path.Combine(Options.OutputDirectory, LossCurvePlot.FileName), run.Losses, run.Evaluations); }
            catch (Exception e) when (e is IOException or TypeInitializationException or DllNotFoundException or InvalidOperationException)
            {
                events.Log(LogLevel.Warning, "trainer", $"could not draw the loss curve: {e.Message}");
            }
        }
        double? finalLoss = run.Losses.Count > 0 ? run.Losses[^1] : null;
        events.Publish(new TrainingFinishedEvent(run.RunId, run.GlobalStep, reason, message, finalLoss, elapsed, run.LastCheckpoint));
    }

    /// <summary>Publishes where the run stands (after every step: cheap, no tensor is read).</summary>
    private static void Phase(TrainingRun run, EventBus events, TrainingPhase phase, TimeSpan elapsed, int firstStep, int done = 0, int total = 0) =>
        events.Publish(new TrainingPhaseEvent(run.RunId, phase, run.GlobalStep, run.TotalSteps, run.Epoch, elapsed, Eta(run, elapsed, firstStep), done, total));

    /// <summary>The evaluation progress callback: an Evaluating phase event per validation batch.</summary>
    private static Action<int, int> Progress(TrainingRun run, EventBus events, Stopwatch session, int firstStep) =>
        (done, total) => Phase(run, events, TrainingPhase.Evaluating, session.Elapsed, firstStep, done, total);

    /// <summary>Time to the last step at this session's pace so far; null before its first step.</summary>
    private static TimeSpan? Eta(TrainingRun run, TimeSpan elapsed, int firstStep)
    {
        int done = run.GlobalStep - firstStep;
        return done > 0 ? TimeSpan.FromSeconds(elapsed.TotalSeconds / done * (run.TotalSteps - run.GlobalStep)) : null;
    }

    /// <summary>Accumulates steps between two progress events.</summary>
    private sealed class LogWindow
    {
        private double _lossSum, _lastLr, _lastNorm;
        private long _tokens;
        private int _steps;
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public void Add(StepOutcome outcome, double lr)
        {
            _lossSum += outcome.Loss;
            _tokens += outcome.Tokens;
            _steps++;
            _lastLr = lr;
            _lastNorm = outcome.GradNorm;
        }

        public TrainingStepEvent Flush(TrainingRun run, TimeSpan elapsed, int firstStep)
        {
            double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
            var eta = Eta(run, elapsed, firstStep) ?? TimeSpan.Zero;
            var e = new TrainingStepEvent(run.RunId, run.GlobalStep, run.TotalSteps, run.Epoch, _lossSum / Math.Max(1, _steps), _lastLr,
                _lastNorm, _tokens / seconds, elapsed, eta);
            _lossSum = 0;
            _tokens = 0;
            _steps = 0;
            _clock.Restart();
            return e;
        }
    }
}
