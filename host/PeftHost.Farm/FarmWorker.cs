using System.Diagnostics;
using Microsoft.Extensions.Hosting;

namespace PeftHost.Farm;

/// <summary>
/// A silo's worker slots: each pulls the next job from the queue, runs it with <see cref="JobExecutor"/> while
/// renewing its lease, and reports how it ended. A slot whose lease was taken away (the queue gave the job to
/// another silo) stops its run at the next step boundary, so a job never runs to completion twice. The renewals carry
/// the job's training progress, and every <see cref="LoadEvery"/> the silo reports its slots, CPU and memory to the
/// queue: what the dashboard's Farm panel shows.
/// </summary>
public sealed class FarmWorker(IGrainFactory grains, FarmSiloOptions options, JobExecutor executor, ILocalSiloDetails silo) : BackgroundService
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(200);

    /// <summary>How often the silo reports its load.</summary>
    public static readonly TimeSpan LoadEvery = TimeSpan.FromSeconds(1);

    private int _busy;

    /// <summary>This silo's name in its slots' names and its load reports: <c>host:pid</c>.</summary>
    public static string SiloName => $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>This silo's slots' names: <c>host:pid/slotN</c>.</summary>
    public static string SlotName(int slot) => $"{SiloName}/slot{slot}";

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(1, options.Slots).Select(slot =>
            // A thread per slot: a recipe run blocks its thread for minutes.
            Task.Factory.StartNew(() => RunSlot(SlotName(slot), stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap())
            .Append(ReportLoad(stoppingToken)));

    /// <summary>Reports this silo's slots, CPU (over the last interval) and memory to the queue until the silo stops.</summary>
    private async Task ReportLoad(CancellationToken stopping)
    {
        var queue = grains.GetGrain<IJobQueueGrain>(IJobQueueGrain.Key);
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        while (!stopping.IsCancellationRequested)
        {
            await Delay(LoadEvery, stopping);
            process.Refresh();
            var cpu = process.TotalProcessorTime;
            double wall = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var load = new SiloLoad
            {
                Address = silo.SiloAddress.ToParsableString(),
                Name = SiloName,
                Slots = options.Slots,
                Busy = Volatile.Read(ref _busy),
                CpuPercent = wall > 0 ? 100 * (cpu - cpuBefore).TotalSeconds / wall / Environment.ProcessorCount : 0,
                MemoryBytes = process.WorkingSet64,
                Reported = DateTime.UtcNow,
            };
            cpuBefore = cpu;
            // A lost report is harmless (the next one follows in a second); the queue may be moving to another silo.
            try { await queue.ReportLoad(load); }
            catch (Exception e) when (e is not OperationCanceledException) { }
        }
    }

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
            Interlocked.Increment(ref _busy);
            try { await RunHeld(queue, taken, worker, stopping); }
            finally { Interlocked.Decrement(ref _busy); }
        }
    }

    private async Task RunHeld(IJobQueueGrain queue, JobStatus taken, string worker, CancellationToken stopping)
    {
        var job = taken.Job;
        options.Log?.Invoke($"[farm] {worker}: {job.Id} started (attempt {taken.Attempts})");
        using var run = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var progress = new JobProgressTracker();
        var execution = Task.Factory.StartNew(() => executor.Run(job, progress, run.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        while (!execution.IsCompleted)
        {
            await Task.WhenAny(execution, Task.Delay(JobQueueGrain.RenewEvery, CancellationToken.None));
            if (execution.IsCompleted) break;
            try
            {
                if (!await queue.Renew(job.Id, worker, progress.Current))
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
            try { await queue.Finish(job.Id, worker, outcome, progress.Current); return; }
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
