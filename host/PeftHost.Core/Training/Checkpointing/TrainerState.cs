using System.Text.Json;
using System.Text.Json.Serialization;
using PeftHost.Core.IO;
using PeftHost.Core.Models;

namespace PeftHost.Core.Training.Checkpointing;

/// <summary>
/// The trainer's own state in a checkpoint (<c>trainer_state.json</c>): where the run is, the
/// schedule, early-stopping bookkeeping, the loss history and the random state.
/// </summary>
public sealed record TrainerState
{
    /// <summary>The file's name inside a checkpoint folder.</summary>
    public const string FileName = "trainer_state.json";

    private static readonly JsonSerializerOptions Options = new(Json.Indented)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The run's id.</summary>
    public string RunId { get; init; } = "";
    /// <summary>Optimizer steps completed.</summary>
    public int GlobalStep { get; init; }
    /// <summary>Steps the run takes in all.</summary>
    public int TotalSteps { get; init; }
    /// <summary>Warm-up steps.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>The schedule's kind.</summary>
    public string Schedule { get; init; } = "";
    /// <summary>The peak learning rate (a step-boundary handler may have changed it).</summary>
    public double PeakLearningRate { get; init; }
    /// <summary>Data position: the epoch of the next batch.</summary>
    public int Epoch { get; init; }
    /// <summary>Data position: the next batch within the epoch.</summary>
    public int BatchInEpoch { get; init; }
    /// <summary>The shuffling seed (each epoch's order is a function of it and the epoch).</summary>
    public long ShuffleSeed { get; init; }
    /// <summary>Training examples (a resume against different data is refused); null for a streamed dataset, whose length is not known.</summary>
    public int? TrainExamples { get; init; }

    /// <summary>Micro-batch size.</summary>
    public int BatchSize { get; init; }
    /// <summary>Micro-batches per step.</summary>
    public int GradientAccumulationSteps { get; init; }
    /// <summary>Best early-stopping metric so far.</summary>
    public double? BestMetric { get; init; }
    /// <summary>The step of <see cref="BestMetric"/>.</summary>
    public int? BestStep { get; init; }
    /// <summary>The folder name of the checkpoint written at <see cref="BestStep"/> (Hugging Face's best_model_checkpoint), beside this one.</summary>
    public string? BestModelCheckpoint { get; init; }
    /// <summary>Evaluations since the metric last improved.</summary>
    public int EvaluationsWithoutImprovement { get; init; }
    /// <summary>torch's default CPU generator state, base64.</summary>
    public string TorchCpuRngState { get; init; } = "";
    /// <summary>The loss of every step so far.</summary>
    public List<double> Losses { get; init; } = [];
    /// <summary>Every evaluation so far.</summary>
    public List<EvaluationRecord> Evaluations { get; init; } = [];

    /// <summary>
    /// The values a resume hands to libtorch and the data loader, checked: a damaged file is refused naming it
    /// and the key, before anything is restored. Returns the CPU generator state (null when none was saved).
    /// </summary>
    /// <exception cref="ModelFormatException">A value is out of range.</exception>
    public byte[]? CheckRestorable(string directory, int? batchesPerEpoch)
    {
        string file = Path.Combine(directory, FileName);
        ModelFormatException Bad(string key, string problem) => new(file, $"{key} {problem}");
        if (GlobalStep < 0) throw Bad("global_step", $"is {GlobalStep}; it cannot be negative");
        if (Epoch < 0) throw Bad("epoch", $"is {Epoch}; it cannot be negative");
        if (BatchInEpoch < 0) throw Bad("batch_in_epoch", $"is {BatchInEpoch}; it cannot be negative");
        if (BatchInEpoch >= batchesPerEpoch)
            throw Bad("batch_in_epoch", $"is {BatchInEpoch}; an epoch of this run has batches 0 to {batchesPerEpoch - 1}");
        if (BestModelCheckpoint is { } best && (!best.StartsWith(CheckpointStore.Prefix, StringComparison.Ordinal) || best.Contains('/') || best.Contains('\0')))
            throw Bad("best_model_checkpoint", $"is '{best}'; it names a checkpoint folder beside this one ({CheckpointStore.Prefix}N)");
        if (TorchCpuRngState.Length == 0) return null;
        byte[] rng;
        try { rng = Convert.FromBase64String(TorchCpuRngState); }
        catch (FormatException) { throw Bad("torch_cpu_rng_state", "is not base64"); }
        if (TorchRng.Problem(rng) is { } problem) throw Bad("torch_cpu_rng_state", problem);
        return rng;
    }

    /// <summary>Writes the state to <paramref name="directory"/>.</summary>
    public void Save(string directory) =>
        AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Options));

    /// <summary>Reads the state from <paramref name="directory"/>.</summary>
    public static TrainerState Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{directory} is not a training checkpoint (no {FileName})", path);
        TrainerState state;
        try { state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Options) ?? throw new InvalidDataException($"{path}: empty"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        // The same rule a step-boundary handler's change obeys: a resumed run may not train with a learning rate it could never have had.
        if (!(state.PeakLearningRate >= 0 && double.IsFinite(state.PeakLearningRate)))
            throw new InvalidDataException($"{path}: 'peak_learning_rate' must be a finite number ≥ 0, got {state.PeakLearningRate}");
        return state;
    }
}

/// <summary>One evaluation's metrics.</summary>
/// <param name="Step">Optimizer steps completed when it ran.</param>
/// <param name="Metrics">Metric name → value.</param>
public sealed record EvaluationRecord(int Step, IReadOnlyDictionary<string, double> Metrics);
