namespace PeftHost.Farm;

/// <summary>
/// The farm's job queue: one grain (key <see cref="Key"/>) that sweeps submit jobs to and worker slots pull them
/// from. A worker holds a job by a lease it renews while the recipe runs; a job whose lease runs out (its silo was
/// killed or cut off) is queued again and the next worker resumes it from its checkpoints. Its state is persisted
/// (in memory when embedded, in Redis in a cluster), so the queue survives the loss of the silo it lives on.
/// </summary>
public interface IJobQueueGrain : IGrainWithStringKey
{
    /// <summary>The queue's grain key.</summary>
    const string Key = "queue";

    /// <summary>Queues <paramref name="jobs"/> (ids must be new).</summary>
    Task Submit(List<FarmJob> jobs);

    /// <summary>The oldest queued job, leased to <paramref name="worker"/>; null when none waits.</summary>
    Task<JobStatus?> Take(string worker);

    /// <summary>
    /// Extends <paramref name="worker"/>'s lease on job <paramref name="jobId"/> and records its <paramref name="progress"/>
    /// (null: no training step yet); false when the worker no longer holds it.
    /// </summary>
    Task<bool> Renew(string jobId, string worker, JobProgress? progress);

    /// <summary>
    /// Records how the job ended: from the worker holding it, or a success from a worker that lost its lease while
    /// its run went on; ignored once the job has ended. <paramref name="progress"/> is the run's last training step
    /// (null: it had none), so an ended job shows where it ended.
    /// </summary>
    Task Finish(string jobId, string worker, JobOutcome outcome, JobProgress? progress);

    /// <summary>Every job of <paramref name="sweep"/>, in submission order.</summary>
    Task<List<JobStatus>> Status(string sweep);

    /// <summary>Forgets a finished sweep's jobs (the Farm panel still lists the last <see cref="JobQueueGrain.RecentlyFinished"/> of them).</summary>
    Task Forget(string sweep);

    /// <summary>A silo's periodic report of its slots, CPU and memory (kept in memory: the next report replaces it).</summary>
    Task ReportLoad(SiloLoad load);

    /// <summary>The farm for the dashboard: the active silos with their last load, and every job with its progress.</summary>
    Task<FarmOverview> Overview();
}
