namespace PeftHost.Farm;

/// <summary>The queue's persisted state: every job not yet forgotten, in submission order.</summary>
[GenerateSerializer]
public sealed class JobQueueState
{
    /// <summary>The jobs.</summary>
    [Id(0)] public List<JobStatus> Jobs { get; set; } = [];
}

/// <summary>
/// <see cref="IJobQueueGrain"/>: leases, expiry and retries. Orleans runs one call at a time on a grain, so the
/// state needs no locks; every change is written to the grain storage before the call returns.
/// </summary>
public sealed class JobQueueGrain([PersistentState("queue", FarmSilo.StorageName)] IPersistentState<JobQueueState> state) : Grain, IJobQueueGrain
{
    /// <summary>How long a lease lasts without renewal; workers renew every <see cref="RenewEvery"/>.</summary>
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(10);

    /// <summary>How often a worker renews its lease.</summary>
    public static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(2);

    /// <summary>Times a job may be taken before a lost lease fails it (a recipe that kills its silo is not retried forever).</summary>
    public const int MaxAttempts = 3;

    /// <summary>How many forgotten finished jobs <see cref="Overview"/> still lists (the panel shows a sweep's end after its submitter collected it).</summary>
    public const int RecentlyFinished = 50;

    /// <summary>A silo report older than this is dropped: the silo stopped reporting (it is leaving, or cut off).</summary>
    public static readonly TimeSpan LoadExpiry = TimeSpan.FromSeconds(10);

    private List<JobStatus> Jobs => state.State.Jobs;

    // Not persisted: a silo reports every second and the panel needs no history, so a reactivated queue is complete
    // again a second later without a storage write per report.
    private readonly Dictionary<string, SiloLoad> _loads = new(StringComparer.Ordinal);
    private readonly List<JobStatus> _forgotten = [];

    /// <summary>
    /// The queue (re)activated, e.g. on another silo after the one it lived on was killed: while it was unreachable no
    /// worker could renew its lease, so every running job gets a fresh lease instead of being taken from its healthy
    /// silo and run a second time. (The failure detector alone takes seconds, more on a loaded machine; before this,
    /// a lease could run out during that outage and an innocent job was resumed elsewhere.) A job whose silo is
    /// really gone is still re-queued, one lease later.
    /// </summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + LeaseDuration;
        var running = Jobs.Where(j => j.State == JobState.Running && j.LeaseExpires < until).ToList();
        foreach (var job in running) job.LeaseExpires = until;
        if (running.Count > 0) await state.WriteStateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task Submit(List<FarmJob> jobs)
    {
        foreach (var job in jobs)
        {
            if (Jobs.Any(j => j.Job.Id == job.Id)) throw new ArgumentException($"job {job.Id} is already queued");
            Jobs.Add(new JobStatus { Job = job, State = JobState.Queued });
        }
        await state.WriteStateAsync();
    }

    /// <inheritdoc />
    public async Task<JobStatus?> Take(string worker)
    {
        bool changed = RequeueExpired();
        var next = Jobs.FirstOrDefault(j => j.State == JobState.Queued);
        if (next is not null)
        {
            next.State = JobState.Running;
            next.Worker = worker;
            next.Attempts++;
            next.Started = DateTime.UtcNow;
            next.Progress = null; // a resumed attempt reports afresh (its rate is its own)
            next.LeaseExpires = DateTime.UtcNow + LeaseDuration;
            changed = true;
        }
        if (changed) await state.WriteStateAsync();
        return next;
    }

    /// <inheritdoc />
    public async Task<bool> Renew(string jobId, string worker, JobProgress? progress)
    {
        var job = Held(jobId, worker);
        if (job is null) return false;
        job.LeaseExpires = DateTime.UtcNow + LeaseDuration;
        if (progress is not null) job.Progress = progress;
        await state.WriteStateAsync();
        return true;
    }

    /// <inheritdoc />
    public async Task Finish(string jobId, string worker, JobOutcome outcome, JobProgress? progress)
    {
        var job = Jobs.FirstOrDefault(j => j.Job.Id == jobId);
        if (job is null || job.State is JobState.Succeeded or JobState.Failed) return;
        // A worker that lost its lease (cut off from the queue while its run went on) may still finish first: its
        // completed run is the job's result, and the worker now holding the job is stopped by its next renewal.
        // Its failure is not taken: the job's current holder may yet succeed.
        if (job.Worker != worker && !outcome.Succeeded) return;
        job.Worker = worker;
        job.State = outcome.Succeeded ? JobState.Succeeded : JobState.Failed;
        job.Outcome = outcome;
        if (progress is not null) job.Progress = progress;
        await state.WriteStateAsync();
    }

    /// <inheritdoc />
    public async Task<List<JobStatus>> Status(string sweep)
    {
        if (RequeueExpired()) await state.WriteStateAsync();
        return Jobs.Where(j => j.Job.Sweep == sweep).ToList();
    }

    /// <inheritdoc />
    public async Task Forget(string sweep)
    {
        var forgotten = Jobs.Where(j => j.Job.Sweep == sweep).ToList();
        if (forgotten.Count == 0) return;
        Jobs.RemoveAll(j => j.Job.Sweep == sweep);
        await state.WriteStateAsync();
        _forgotten.AddRange(forgotten);
        if (_forgotten.Count > RecentlyFinished) _forgotten.RemoveRange(0, _forgotten.Count - RecentlyFinished);
    }

    /// <inheritdoc />
    public Task ReportLoad(SiloLoad load)
    {
        _loads[load.Address] = load;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<FarmOverview> Overview()
    {
        if (RequeueExpired()) await state.WriteStateAsync();
        // Membership says which silos are alive (a killed one leaves within seconds); the reports say how loaded they are.
        var hosts = await GrainFactory.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        var active = hosts.Keys.Select(a => a.ToParsableString()).ToHashSet(StringComparer.Ordinal);
        var now = DateTime.UtcNow;
        foreach (var gone in _loads.Where(l => !active.Contains(l.Key) || now - l.Value.Reported > LoadExpiry).Select(l => l.Key).ToList())
            _loads.Remove(gone);
        return new FarmOverview
        {
            Silos = _loads.Values.OrderBy(l => l.Name, StringComparer.Ordinal).ToList(),
            Jobs = [.. Jobs, .. _forgotten.Where(f => !Jobs.Any(j => j.Job.Id == f.Job.Id))],
        };
    }

    private JobStatus? Held(string jobId, string worker) =>
        Jobs.FirstOrDefault(j => j.Job.Id == jobId && j.State == JobState.Running && j.Worker == worker);

    /// <summary>Queues again every running job whose lease ran out; fails those taken <see cref="MaxAttempts"/> times.</summary>
    private bool RequeueExpired()
    {
        bool changed = false;
        var now = DateTime.UtcNow;
        foreach (var job in Jobs.Where(j => j.State == JobState.Running && j.LeaseExpires < now))
        {
            changed = true;
            if (job.Attempts >= MaxAttempts)
            {
                job.State = JobState.Failed;
                job.Outcome = new JobOutcome { Error = $"lost {job.Attempts} times (its silo stopped answering each time); not retried again" };
            }
            else
            {
                job.State = JobState.Queued;
            }
        }
        return changed;
    }
}
