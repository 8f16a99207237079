namespace PeftHost.Farm;

/// <summary>
/// Submits a sweep's jobs to a farm's queue and follows them to the end, reporting each change of state (started,
/// resumed on another silo, succeeded, failed) as a line.
/// </summary>
/// <remarks>With a <see cref="Shipping.OutputCollector"/> (shipped jobs), each poll also brings the jobs' outputs in.</remarks>
public sealed class SweepRunner(IGrainFactory grains, Action<string> report, Shipping.OutputCollector? outputs = null)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    /// <summary>Queues <paramref name="jobs"/> and waits for all of them; returns their final states in submission order.</summary>
    public async Task<List<JobStatus>> RunAsync(List<FarmJob> jobs, CancellationToken cancellation)
    {
        var queue = grains.GetGrain<IJobQueueGrain>(IJobQueueGrain.Key);
        string sweep = jobs[0].Sweep;
        await queue.Submit(jobs);
        var seen = new Dictionary<string, (JobState, int)>();
        while (true)
        {
            List<JobStatus> statuses;
            try { statuses = await queue.Status(sweep); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The queue's silo was lost: the grain comes back on another silo with its persisted state.
                report($"[farm] queue unreachable ({e.GetType().Name}); retrying");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
                continue;
            }
            foreach (var s in statuses)
            {
                var now = (s.State, s.Attempts);
                if (seen.TryGetValue(s.Job.Id, out var before) && before == now) continue;
                seen[s.Job.Id] = now;
                if (Describe(s) is { } line) report(line);
            }
            bool done = statuses.All(s => s.State is JobState.Succeeded or JobState.Failed);
            if (outputs is not null && !Collect(done)) { await Task.Delay(TimeSpan.FromSeconds(1), cancellation); continue; }
            if (done)
            {
                await queue.Forget(sweep);
                outputs?.Forget();
                return statuses;
            }
            await Task.Delay(Poll, cancellation);
        }
    }

    /// <summary>Collects the shipped outputs; false (after reporting why) when Redis failed this time.</summary>
    private bool Collect(bool last)
    {
        try
        {
            outputs!.Collect();
            return true;
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or IOException or TimeoutException)
        {
            report($"[farm] could not collect outputs ({e.GetType().Name}: {e.Message}); retrying");
            return !last;
        }
    }

    private static string? Describe(JobStatus s) => s.State switch
    {
        JobState.Running when s.Attempts > 1 => $"[farm] {s.Job.Name}: resumed on {s.Worker} (attempt {s.Attempts})",
        JobState.Running => $"[farm] {s.Job.Name}: started on {s.Worker}",
        JobState.Queued when s.Attempts > 0 => $"[farm] {s.Job.Name}: its silo {s.Worker} was lost; queued again",
        // States are polled, so a short resumed attempt can finish between two polls: the final line names the attempt.
        JobState.Succeeded when s.Attempts > 1 => $"[farm] {s.Job.Name}: succeeded in {s.Outcome!.Seconds:F1} s on attempt {s.Attempts}, on {s.Worker}",
        JobState.Succeeded => $"[farm] {s.Job.Name}: succeeded in {s.Outcome!.Seconds:F1} s",
        JobState.Failed => $"[farm] {s.Job.Name}: failed: {FirstLine(s.Outcome?.Error)}",
        _ => null,
    };

    private static string FirstLine(string? text) => text is null ? "" : text.Split('\n')[0];
}
