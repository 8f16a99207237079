using System.Diagnostics;
using PeftHost.Core.IO;
using PeftHost.Core.Plugins;
using PeftHost.Core.Recipes;
using PeftHost.Core.Recipes.Output;
using PeftHost.Core.Telemetry;

namespace PeftHost.Farm;

/// <summary>
/// Runs one farm job in this process exactly as <c>peft run RECIPE --set … --out DIR --workspace W</c> does: the same
/// <see cref="RecipeRunner"/> and sandbox, default limits. The recipe's output goes to <c>stdout.log</c> and its
/// progress and notices to <c>stderr.log</c> in the job's folder (appended, so a resumed job keeps its first
/// attempt's lines). A folder that already holds a <c>run.json</c> is a job resumed after its silo was lost: it
/// continues from its checkpoints as <c>peft run --resume</c> does.
/// </summary>
public sealed class JobExecutor(PluginHost plugins, Shipping.JobShipping? shipping = null)
{
    /// <summary>The recipe's output (its <c>log</c>, <c>table</c>, <c>console.log</c> lines) in the job's folder.</summary>
    public const string StdoutLog = "stdout.log";

    /// <summary>Progress, notices, warnings and errors in the job's folder.</summary>
    public const string StderrLog = "stderr.log";

    /// <summary>
    /// Runs <paramref name="job"/>; never throws for the recipe's own failures. Null when another run of the job still
    /// holds its folder (a silo that lost its lease but not its process): that run's result is the job's.
    /// </summary>
    /// <param name="job">The job.</param>
    /// <param name="progress">Receives the run's training steps (what the worker reports to the queue).</param>
    /// <param name="cancellation">Stops the run at its next step boundary.</param>
    public JobOutcome? Run(FarmJob job, JobProgressTracker progress, CancellationToken cancellation)
    {
        if (job.Inputs is null) return RunIn(job, progress, cancellation);
        if (shipping is null) return new JobOutcome { Error = "a shipped job reached a silo without a farm's Redis (an embedded silo); submit it with --shared-storage" };
        Shipping.JobShipping.Prepared prepared;
        try { prepared = shipping.Prepare(job); }
        catch (Exception e) when (e is InvalidDataException or IOException or StackExchange.Redis.RedisException)
        {
            return new JobOutcome { Error = $"could not fetch the job's inputs on {Environment.MachineName}: {e.Message}" };
        }
        using (prepared)
        {
            var outcome = RunIn(prepared.Job, progress, cancellation);
            // Also after a stop at a step boundary (the silo is leaving): the next silo resumes from what was shipped.
            if (outcome is not null) prepared.Finish();
            return outcome;
        }
    }

    private JobOutcome? RunIn(FarmJob job, JobProgressTracker progress, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(job.OutputFolder);
        try { FolderLock.Acquire(job.OutputFolder).Dispose(); }
        catch (FolderInUseException) { return null; }
        bool resume = File.Exists(Path.Combine(job.OutputFolder, RunRecord.FileName));
        var events = new EventBus();
        var results = new Dictionary<string, string>(StringComparer.Ordinal);
        using var steps = events.Subscribe<Core.Training.TrainingStepEvent>(progress.Observe);
        using var tables = events.Subscribe<RecipeTableEvent>(t =>
        {
            if (t.Rows.Count == 0) return;
            lock (results)
                for (int i = 0; i < t.Columns.Count; i++) results[t.Columns[i]] = t.Rows[^1][i].Text;
        });
        var options = new RecipeRunOptions
        {
            RecipePath = job.Recipe,
            OutputFolder = job.OutputFolder,
            Workspace = job.Workspace,
            Parameters = job.Assignments.Select(RecipeParameters.Split).ToList(),
            Resume = resume,
        };
        RecipeResult result;
        using (var stdout = new StreamWriter(Path.Combine(job.OutputFolder, StdoutLog), append: true))
        using (var stderr = new StreamWriter(Path.Combine(job.OutputFolder, StderrLog), append: true))
        using (var view = new RecipeConsoleView(events, stdout, stderr, interactive: false))
        {
            if (resume) stderr.WriteLine($"[farm] resuming {job.Name} on {Environment.MachineName} (process {Environment.ProcessId}) from its checkpoints");
            var host = RecipeHostContext.ForPlugins(plugins, events, hotReload: false);
            result = new RecipeRunner().Run(options, host, cancellation);
            if (result.Failure is { } failure) stderr.WriteLine(failure.ToString());
        }
        lock (results)
            return new JobOutcome
            {
                Succeeded = result.Outcome == RecipeOutcome.Succeeded,
                Error = result.Failure?.ToString(),
                Results = new Dictionary<string, string>(results),
                Seconds = clock.Elapsed.TotalSeconds,
            };
    }
}
