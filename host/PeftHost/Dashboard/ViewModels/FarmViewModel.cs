using System.Globalization;
using PeftHost.Farm;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>
/// The Farm panel's state: the farm's silos (slots, CPU, memory) and jobs (state, silo, attempt, step, loss, ETA),
/// polled from the queue grain (<see cref="IJobQueueGrain.Overview"/>) every <see cref="PollEvery"/> on the thread
/// pool, never on the UI thread. The UI reads the latest snapshot through <see cref="SiloRows"/> and
/// <see cref="JobRows"/>; <see cref="Version"/> says when there is a new one. Without a cluster it says how to connect.
/// </summary>
public sealed class FarmViewModel
{
    /// <summary>How often the queue is polled (workers report progress every <see cref="JobQueueGrain.RenewEvery"/>).</summary>
    public static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(1);

    /// <summary>What the panel says when the dashboard was started without <c>--cluster</c>.</summary>
    public const string NotConnected =
        "No farm connected. To watch a farm's silos and jobs here, open the dashboard\n"
        + "as the farm's client:\n"
        + "  peft tui --cluster redis://HOST:PORT --cluster-key KEY [--tls-cert FILE]\n"
        + "(the same cluster, key and certificate as `peft farm`; see docs/FARM.md).";

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private readonly IJobQueueGrain? _queue;
    private volatile Snapshot? _latest;
    private volatile string? _error;
    private int _version;

    private sealed record Snapshot(FarmOverview Overview, DateTime At);

    /// <summary>A view-model of the farm whose grains are <paramref name="grains"/>; null: no farm connected.</summary>
    public FarmViewModel(IGrainFactory? grains, string? clusterName = null)
    {
        _queue = grains?.GetGrain<IJobQueueGrain>(IJobQueueGrain.Key);
        ClusterName = clusterName;
    }

    /// <summary>True when the dashboard is a client of a farm.</summary>
    public bool Connected => _queue is not null;

    /// <summary>The farm's address as shown (<c>redis://HOST:PORT</c>), or null.</summary>
    public string? ClusterName { get; }

    /// <summary>Changes each time a poll brings a new overview or error (the UI redraws on change).</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>The latest overview, or null before the first poll answered.</summary>
    public FarmOverview? Overview => _latest?.Overview;

    /// <summary>Polls the queue once; a failure is kept as <see cref="Error"/> and the last overview stays shown.</summary>
    public async Task PollAsync()
    {
        if (_queue is null) return;
        try
        {
            var overview = await _queue.Overview();
            _latest = new Snapshot(overview, DateTime.UtcNow);
            _error = null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The queue's silo may be gone until the cluster notices; the grain then answers from another silo.
            _error = $"farm unreachable ({e.GetType().Name}: {e.Message}); retrying";
        }
        Interlocked.Increment(ref _version);
    }

    /// <summary>Polls every <see cref="PollEvery"/> on the thread pool until <paramref name="stop"/>.</summary>
    public Task PollUntil(CancellationToken stop) => _queue is null ? Task.CompletedTask : Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            await PollAsync();
            try { await Task.Delay(PollEvery, stop); } catch (OperationCanceledException) { }
        }
    }, CancellationToken.None);

    /// <summary>The last poll's failure, or null.</summary>
    public string? Error => _error;

    /// <summary>One line about the farm: how many silos and jobs in which state, and where; or the failure.</summary>
    public string Summary()
    {
        if (_queue is null) return "no farm connected";
        if (_error is { } error) return error;
        if (_latest is not { } s) return $"connecting to {ClusterName ?? "the farm"}…";
        var jobs = s.Overview.Jobs;
        // Counts first: an 80-column frame cuts the address, not the news.
        return $"{s.Overview.Silos.Count} silo(s) · jobs: {jobs.Count(j => j.State == JobState.Queued)} queued, "
            + $"{jobs.Count(j => j.State == JobState.Running)} running, {jobs.Count(j => j.State == JobState.Succeeded)} succeeded, "
            + $"{jobs.Count(j => j.State == JobState.Failed)} failed · {ClusterName ?? "farm"}";
    }

    /// <summary>The silo list's header for <paramref name="width"/> columns.</summary>
    public static string SiloHeader(int width) => Fit($"{"SILO".PadRight(NameWidth(width, SiloColumns))} {"BUSY",4} {"CPU",5}  MEMORY", width);

    /// <summary>One row per silo: <c>host:pid  1/1  97%  412.3 MiB</c>.</summary>
    public IReadOnlyList<string> SiloRows(int width)
    {
        if (_latest is not { } s) return [];
        int name = NameWidth(width, SiloColumns);
        return s.Overview.Silos.Select(l => Fit(
            $"{DisplayFormat.Fit(l.Name, name)} {$"{l.Busy}/{l.Slots}",4} {l.CpuPercent.ToString("0", Invariant),4}%  {DisplayFormat.Bytes(l.MemoryBytes)}", width)).ToList();
    }

    /// <summary>The job list's header for <paramref name="width"/> columns.</summary>
    public static string JobHeader(int width) =>
        Fit($"{"JOB".PadRight(NameWidth(width, JobColumns))} {"STATE",-9} {"SILO",-14} {"STEP",9} {"LOSS",7} {"ETA",7} #", width);

    /// <summary>
    /// One row per job: name, state, silo (<c>host:pid</c>), step/total, last loss, ETA (from this attempt's step rate)
    /// and attempt number; an ended job shows how long it took instead of an ETA. At 80 columns the name gets 27.
    /// </summary>
    public IReadOnlyList<string> JobRows(int width)
    {
        if (_latest is not { } s) return [];
        int name = NameWidth(width, JobColumns);
        return s.Overview.Jobs.Select(j => Fit(
            $"{DisplayFormat.Fit(j.Job.Name, name)} {StateText(j),-9} {DisplayFormat.Fit(SiloOf(j.Worker), 14)} {StepText(j),9} {LossText(j),7} {EtaText(j),7} {j.Attempts}",
            width)).ToList();
    }

    /// <summary>The job's state as shown.</summary>
    public static string StateText(JobStatus job) => job.State switch
    {
        JobState.Queued => job.Attempts > 0 ? "requeued" : "queued",
        JobState.Running => "running",
        JobState.Succeeded => "succeeded",
        _ => "failed",
    };

    /// <summary>The time left from this attempt's step rate, or null when not running or not yet known.</summary>
    public static TimeSpan? Eta(JobStatus job) =>
        job is { State: JobState.Running, Progress: { StepsPerSecond: > 0 } p }
            ? TimeSpan.FromSeconds(Math.Max(0, p.TotalSteps - p.Step) / p.StepsPerSecond)
            : null;

    private static string EtaText(JobStatus job) => job.State switch
    {
        JobState.Running => Eta(job) is { } eta ? DisplayFormat.Duration(eta) : "--:--",
        // Ended: how long its last attempt took.
        JobState.Succeeded or JobState.Failed when job.Outcome is { Seconds: > 0 } o => DisplayFormat.Duration(TimeSpan.FromSeconds(o.Seconds)),
        _ => "",
    };

    private static string StepText(JobStatus job) => job.Progress is { } p ? $"{p.Step}/{p.TotalSteps}" : "";

    private static string LossText(JobStatus job) => job.Progress is { } p ? DisplayFormat.Metric(p.Loss) : "";

    /// <summary><c>host:pid</c> of a worker slot's name <c>host:pid/slotN</c>.</summary>
    private static string SiloOf(string? worker) => worker is null ? "" : worker.Split('/')[0];

    // The columns after the name: busy, CPU, memory; state, silo, step, loss, ETA, attempt (with their spaces).
    private const int SiloColumns = 1 + 4 + 1 + 5 + 2 + 10;
    private const int JobColumns = 1 + 9 + 1 + 14 + 1 + 9 + 1 + 7 + 1 + 7 + 2;

    /// <summary>The name column: what is left of <paramref name="width"/> after the fixed columns, at least 8.</summary>
    private static int NameWidth(int width, int fixedColumns) => Math.Max(8, width - fixedColumns);

    private static string Fit(string row, int width) => row.Length <= width ? row : DisplayFormat.Fit(row, width);
}
