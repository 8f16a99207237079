using System.Text.Json;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Training.Metrics;

/// <summary>
/// A subscriber that appends one JSON object a line to <c>metrics.jsonl</c> for each training,
/// evaluation, checkpoint and finish event of one run. Non-finite numbers are written as null.
/// Each line is appended whole in one write into disk space reserved for it first, so a full disk
/// refuses a line before any of it is written and the log never ends in a torn line (where the file
/// system cannot reserve, a failed write is cut back to where the line began).
/// </summary>
public sealed class MetricsLog : IDisposable
{
    /// <summary>The file name inside a run's output folder.</summary>
    public const string FileName = "metrics.jsonl";

    private readonly FileStream _file;
    private readonly RunEventWriter _writer;

    /// <summary>Starts logging <paramref name="runId"/>'s events from <paramref name="events"/> to <paramref name="path"/> (appending).</summary>
    public MetricsLog(EventBus events, string runId, string path)
    {
        Path = path;
        IO.WriteConfinement.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        _file = IO.WriteConfinement.OpenAppend(path);
        _writer = new RunEventWriter(events, runId, _file)
            .On<TrainingStepEvent>(e => Write(w => TrainLine(w, e)))
            .On<EvaluationEvent>(e => Write(w => EvalLine(w, e)))
            .On<CheckpointEvent>(e => Write(w => CheckpointLine(w, e)))
            .On<TrainingFinishedEvent>(e => Write(w => FinishedLine(w, e)));
    }

    /// <summary>The file written.</summary>
    public string Path { get; }

    /// <summary>
    /// Drops the lines of steps after <paramref name="step"/> — what an interrupted run logged past
    /// the checkpoint it is resumed from, and will log again.
    /// </summary>
    public static void TruncateAfter(string path, int step)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadAllLines(path).Where(line =>
        {
            try
            {
                using var doc = JsonDocument.Parse(line);
                return !doc.RootElement.TryGetProperty("step", out var s) || s.GetInt32() <= step;
            }
            catch (JsonException) { return false; }
        }).ToArray();
        IO.AtomicFile.WriteAllText(path, kept.Length == 0 ? "" : string.Join("\n", kept) + "\n");
    }

    /// <summary>Appends one line (called one at a time by <see cref="RunEventWriter"/>).</summary>
    private void Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            body(json);
            json.WriteString("time", DateTimeOffset.Now.ToString("O"));
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        byte[] line = buffer.ToArray();
        long end = _file.Length;
        // Reserving the line's blocks first means a full disk refuses it before any byte lands: cutting
        // a partial write back afterwards leaves a window in which a killed process keeps a torn line.
        var reservation = IO.PosixFile.TryReserve(_file, end, line.Length);
        if (reservation == IO.PosixFile.Reservation.NoSpace)
            throw new IOException($"{Path}: a line could not be appended (no space left on device); the log ends at its last whole line");
        try
        {
            _file.Write(line); // unbuffered: one write of the whole line
        }
        catch (IOException e)
        {
            // Where the file system cannot reserve: cutting back frees space; if even that fails, resume skips a torn line.
            try { _file.SetLength(end); } catch (IOException) { }
            throw new IOException($"{Path}: a line could not be appended ({e.Message}); the log ends at its last whole line", e);
        }
    }

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value); else w.WriteNull(name);
    }

    private static void TrainLine(Utf8JsonWriter w, TrainingStepEvent e)
    {
        w.WriteString("type", "train");
        w.WriteNumber("step", e.Step);
        Number(w, "epoch", e.Epoch);
        Number(w, "loss", e.Loss);
        Number(w, "learning_rate", e.LearningRate);
        Number(w, "grad_norm", e.GradNorm);
        Number(w, "tokens_per_second", e.TokensPerSecond);
        Number(w, "elapsed_s", e.Elapsed.TotalSeconds);
        Number(w, "eta_s", e.Eta.TotalSeconds);
    }

    private static void EvalLine(Utf8JsonWriter w, EvaluationEvent e)
    {
        w.WriteString("type", "eval");
        w.WriteNumber("step", e.Step);
        foreach (var (name, value) in e.Metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal)) Number(w, name, value);
    }

    private static void CheckpointLine(Utf8JsonWriter w, CheckpointEvent e)
    {
        w.WriteString("type", "checkpoint");
        w.WriteNumber("step", e.Step);
        w.WriteString("path", e.Path);
    }

    private static void FinishedLine(Utf8JsonWriter w, TrainingFinishedEvent e)
    {
        w.WriteString("type", "finished");
        w.WriteNumber("step", e.Step);
        w.WriteString("reason", e.Reason.ToString());
        if (e.Message is not null) w.WriteString("message", e.Message);
        if (e.FinalLoss is double loss) Number(w, "loss", loss);
        Number(w, "elapsed_s", e.Elapsed.TotalSeconds);
    }

    /// <inheritdoc />
    public void Dispose() => _writer.Dispose();
}
