using System.Globalization;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Recipes;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>Starts recipe runs on the job thread (F5) and stops them (Ctrl-C: the run's token is cancelled; training checkpoints at the next step boundary).</summary>
/// <param name="jobs">The job thread.</param>
/// <param name="runner">Runs a recipe.</param>
/// <param name="events">The bus the run reports to.</param>
/// <param name="workspace">The folder runs read <c>models/</c> and <c>data/</c> from.</param>
/// <param name="runsFolder">Where each run gets its output folder (default: <c>runs/</c> in the workspace).</param>
public sealed class RunCommands(JobRunner jobs, IRecipeRunner runner, EventBus events, string workspace, string? runsFolder = null)
{
    /// <summary>The folder runs read <c>models/</c> and <c>data/</c> from.</summary>
    public string Workspace { get; } = Path.GetFullPath(workspace);

    /// <summary>Where run outputs go.</summary>
    public string RunsFolder { get; } = Path.GetFullPath(runsFolder ?? Path.Combine(workspace, "runs"));

    /// <summary>The output folder of the last run started, or null.</summary>
    public string? LastOutputFolder { get; private set; }

    /// <summary>Runs <paramref name="recipe"/> with <paramref name="setValues"/> (<c>key=value</c>) into <c>&lt;runs&gt;/&lt;name&gt;-&lt;time&gt;/</c>.</summary>
    public CommandResult Run(RecipeEntry recipe, IReadOnlyList<string> setValues)
    {
        string stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string output = Path.Combine(RunsFolder, $"{Path.GetFileNameWithoutExtension(recipe.Name)}-{stamp}");
        var request = new RecipeRunRequest(recipe.Path, setValues, output, Workspace);
        var started = jobs.TryStart(JobKind.Recipe, recipe.Name, token => runner.Run(request, events, token), out string? busy);
        if (started is null) return CommandResult.Refused($"busy: {busy} is running (Ctrl-C stops it)");
        LastOutputFolder = output;
        return CommandResult.Ok($"running {recipe.Name}" + (setValues.Count == 0 ? "" : " --set " + string.Join(" --set ", setValues)));
    }

    /// <summary>
    /// The newest run of <paramref name="recipe"/> in the runs folder that did not complete (stopped, failed or
    /// killed), other than the one running now; null when there is none.
    /// </summary>
    public (string Folder, RunStatus Status)? InterruptedRun(RecipeEntry recipe)
    {
        string? running = jobs.IsBusy ? LastOutputFolder : null;
        return RunResumption.RunsOf(recipe.Path, RunsFolder)
            .Where(r => r.Record.Status != RunStatus.Succeeded && r.Folder != running)
            .Select(r => ((string, RunStatus)?)(r.Folder, r.Record.Status))
            .LastOrDefault();
    }

    /// <summary>
    /// Continues <paramref name="recipe"/>'s newest interrupted run as <c>peft run RECIPE --resume RUN_DIR</c> does: in its
    /// own folder, with the <c>--set</c> values and limits of its <c>run.json</c> (the form's are not used), each training
    /// continuing from its newest checkpoint. Refused, saying why, when there is none or it cannot be continued (the
    /// recipe changed since).
    /// </summary>
    public CommandResult Resume(RecipeEntry recipe)
    {
        if (InterruptedRun(recipe) is not var (folder, _))
            return CommandResult.Refused($"nothing to resume: no stopped or failed run of {recipe.Name} in {RunsFolder}");
        RunRecord record;
        try { (_, record) = RunResumption.Find(recipe.Path, Workspace, folder, []); }
        catch (Exception e) when (e is InvalidOperationException or IOException or Sdk.ConfigException)
        {
            return CommandResult.Refused(e.Message);
        }
        var setValues = record.Parameters.Select(p => $"{p.Key}={p.Value}").ToList();
        var request = new RecipeRunRequest(recipe.Path, setValues, folder, Workspace) { Resume = true, Limits = record.Limits };
        var started = jobs.TryStart(JobKind.Recipe, recipe.Name, token => runner.Run(request, events, token), out string? busy);
        if (started is null) return CommandResult.Refused($"busy: {busy} is running (Ctrl-C stops it)");
        LastOutputFolder = folder;
        return CommandResult.Ok($"resuming {Path.GetFileName(folder)}" + (setValues.Count == 0 ? "" : " --set " + string.Join(" --set ", setValues)));
    }

    /// <summary>Stops the running job: a recipe stops at the next step boundary after writing a checkpoint.</summary>
    public CommandResult Stop()
    {
        var current = jobs.Current;
        if (current is null || !jobs.Cancel()) return CommandResult.Refused("nothing is running");
        return CommandResult.Ok(current.Value.Kind == JobKind.Recipe
            ? $"stopping {current.Value.Name}: checkpoint at the next step boundary…"
            : $"stopping {current.Value.Name}…");
    }
}
