using Microsoft.Extensions.Hosting;

namespace PeftHost.Farm;

/// <summary>
/// A silo's worker slots: each pulls the next job from the queue, runs it with <see cref="JobExecutor"/> while
/// renewing its lease, and reports how it ended. A slot whose lease was taken away (the queue gave the job to
/// another silo) stops its run at the next step boundary, so a job never runs to completion twice.
/// </summary>
public sealed class FarmWorker(IGrainFactory grains, FarmSiloOptions options, JobExecutor executor) : BackgroundService
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(200);

    /// <summary>This silo's slots' names: <c>host:pid/slotN</c>.</summary>
    public static string SlotName(int slot) => $"{Environment.MachineName}:{Environment.ProcessId}/slot{slot}";

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(1, options.Slots).Select(slot =>
            // A thread per slot: a recipe run blocks its thread for minutes.
            Task.Factory.StartNew(() => RunSlot(SlotName(slot), stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()));

    private async Task RunSlot(string worker, CancellationToken stopping)
    {
        var queue = grains.GetGrain<IJobQueueGrain>(IJobQueueGrain.Key);
        while (!stopping.IsCancellationRequested)
        {
            JobStatus? taken;
            try { taken = await queue.Take(worker); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The queue's silo may be gone until the cluster notices: the grain then comes back elsewhere.
                options.Log?.Invoke($"[farm] {worker}: queue unreachable ({e.GetType().Name}: {e.Message}); retrying");
                await Delay(TimeSpan.FromSeconds(1), stopping);
                continue;
            }
            if (taken is null) { await Delay(IdlePoll, stopping); continue; }
            await RunHeld(queue, taken, worker, stopping);
        }
    }

    private async Task RunHeld(IJobQueueGrain queue, JobStatus taken, string worker, CancellationToken stopping)
    {
        var job = taken.Job;
        options.Log?.Invoke($"[farm] {worker}: {job.Id} started (attempt {taken.Attempts})");
        using var run = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var execution = Task.Factory.StartNew(() => executor.Run(job, run.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        while (!execution.IsCompleted)
        {
            await Task.WhenAny(execution, Task.Delay(JobQueueGrain.RenewEvery, CancellationToken.None));
            if (execution.IsCompleted) break;
            try
            {
                if (!await queue.Renew(job.Id, worker))
                {
                    options.Log?.Invoke($"[farm] {worker}: {job.Id} was given to another silo; stopping it here");
                    run.Cancel();
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                options.Log?.Invoke($"[farm] {worker}: could not renew the lease of {job.Id} ({e.Message})");
            }
        }
        var outcome = await execution;
        if (run.IsCancellationRequested) return; // stopped: the queue re-queues it when the lease runs out
        if (outcome is null)
        {
            // Left to the run that holds the folder; if that run never reports, the lease runs out and the job is retried.
            options.Log?.Invoke($"[farm] {worker}: {job.Id}: another run of it still holds its folder; leaving the job to that run");
            return;
        }
        options.Log?.Invoke($"[farm] {worker}: {job.Id} {(outcome.Succeeded ? "succeeded" : "failed")} in {outcome.Seconds:F1} s");
        for (int tries = 0; ; tries++)
        {
            try { await queue.Finish(job.Id, worker, outcome); return; }
            catch (Exception e) when (e is not OperationCanceledException && tries < 30)
            {
                await Delay(TimeSpan.FromSeconds(1), stopping);
            }
        }
    }

    private static async Task Delay(TimeSpan delay, CancellationToken stopping)
    {
        try { await Task.Delay(delay, stopping); } catch (OperationCanceledException) { }
    }
}
