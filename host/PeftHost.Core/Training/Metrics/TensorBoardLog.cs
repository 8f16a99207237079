using PeftHost.Core.Runtime;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Training.Metrics;

/// <summary>
/// Writes a training run's metrics as TensorBoard scalars into <c>OUTPUT/tensorboard/</c>, one event file per training
/// session (a resumed run adds a file), so <c>tensorboard --logdir runs/</c> shows every run. Tags follow Hugging Face's
/// Trainer: <c>train/loss</c>, <c>train/learning_rate</c>, <c>train/grad_norm</c>, <c>train/tokens_per_second</c>,
/// <c>train/epoch</c>, <c>train/memory_mib</c> (the process's resident memory), and each evaluation metric as
/// <c>eval/NAME</c> (<c>eval_loss</c> → <c>eval/loss</c>).
/// </summary>
public sealed class TensorBoardLog : IDisposable
{
    /// <summary>The folder under the training output folder.</summary>
    public const string FolderName = "tensorboard";

    private readonly TensorBoardEventFile _file;
    private readonly RunEventWriter _writer;

    /// <summary>Starts writing the events of run <paramref name="runId"/> into <c><paramref name="outputDirectory"/>/tensorboard/</c>.</summary>
    public TensorBoardLog(EventBus events, string runId, string outputDirectory)
    {
        _file = new TensorBoardEventFile(System.IO.Path.Combine(outputDirectory, FolderName));
        _writer = new RunEventWriter(events, runId, _file)
            .On<TrainingStepEvent>(e => _file.WriteScalars(e.Step, Train(e)))
            .On<EvaluationEvent>(e => _file.WriteScalars(e.Step, e.Metrics.Select(Eval)));
    }

    /// <summary>The event file being written.</summary>
    public string Path => _file.Path;

    /// <inheritdoc />
    public void Dispose() => _writer.Dispose();

    private static IEnumerable<KeyValuePair<string, double>> Train(TrainingStepEvent e) =>
    [
        new("train/loss", e.Loss),
        new("train/learning_rate", e.LearningRate),
        new("train/grad_norm", e.GradNorm),
        new("train/tokens_per_second", e.TokensPerSecond),
        new("train/epoch", e.Epoch),
        new("train/memory_mib", ProcessMemory.ResidentBytes() / (1024.0 * 1024.0)),
    ];

    private static KeyValuePair<string, double> Eval(KeyValuePair<string, double> metric) =>
        new(metric.Key.StartsWith("eval_", StringComparison.Ordinal) ? "eval/" + metric.Key["eval_".Length..] : "eval/" + metric.Key, metric.Value);
}
