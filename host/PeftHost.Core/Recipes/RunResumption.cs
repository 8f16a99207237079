namespace PeftHost.Core.Recipes;

/// <summary>
/// Finds the run <c>peft run RECIPE --resume [RUN_DIR]</c> continues — the named one, or the newest run of the recipe
/// under <c>WORKSPACE/runs/</c> that did not complete — and checks that it can be continued: it did not complete,
/// it ran this recipe, the recipe's text is unchanged and any <c>--set</c> given agrees with the run's.
/// </summary>
public static class RunResumption
{
    /// <summary>The folder under the workspace where runs go by default.</summary>
    public const string RunsFolder = "runs";

    /// <summary>The run to continue: its output folder and its record.</summary>
    /// <exception cref="InvalidOperationException">Nothing to resume, or the run differs (the message says what).</exception>
    public static (string Folder, RunRecord Record) Find(string recipePath, string workspace, string? runFolder, IReadOnlyList<KeyValuePair<string, string>> given)
    {
        string recipe = Path.GetFullPath(recipePath);
        if (!File.Exists(recipe)) throw new FileNotFoundException($"{recipePath}: recipe not found", recipePath);
        var (folder, record) = runFolder is null ? Latest(recipe, recipePath, workspace) : Named(runFolder);
        if (record.Status == RunStatus.Succeeded)
            throw new InvalidOperationException($"nothing to resume: the run in {folder} completed");
        if (record.Recipe != recipe)
            throw new InvalidOperationException($"cannot resume {folder} with {recipePath}: that run is of {record.Recipe}");
        string hash = RunRecord.HashOf(recipe);
        if (record.RecipeSha256 != hash)
            throw new InvalidOperationException($"cannot resume {folder}: {recipePath} changed since the run started (SHA-256 {Short(record.RecipeSha256)} then, {Short(hash)} now); resume with the recipe as it was");
        var recorded = new RecipeParameters(record.Parameters);
        var asked = new RecipeParameters(given);
        var differs = asked.Keys.Where(k => !recorded.Keys.Contains(k) || recorded.Raw(k) != asked.Raw(k))
            .Select(k => $"--set {k}={asked.Raw(k)} (the run has {(recorded.Keys.Contains(k) ? $"{k}={recorded.Raw(k)}" : $"no {k}")})").ToList();
        if (differs.Count > 0)
            throw new InvalidOperationException($"cannot resume {folder} with other values: {string.Join(", ", differs)}; a resumed run keeps the --set values of run.json");
        return (folder, record);
    }

    private static (string, RunRecord) Named(string runFolder)
    {
        if (!Directory.Exists(runFolder)) throw new DirectoryNotFoundException($"nothing to resume: {runFolder} is not a folder");
        return (runFolder, RunRecord.Read(runFolder) ?? throw new InvalidOperationException($"nothing to resume: {runFolder} has no {RunRecord.FileName} (it is not a run's output folder)"));
    }

    /// <summary>
    /// The runs of the recipe <paramref name="recipePath"/> in <paramref name="runsFolder"/> (the sub-folders whose readable
    /// <c>run.json</c> names it), oldest start first; none when the folder is missing. The dashboard offers the newest
    /// one that did not complete for resuming, as <c>--resume</c> without a folder picks it.
    /// </summary>
    public static IReadOnlyList<(string Folder, RunRecord Record)> RunsOf(string recipePath, string runsFolder)
    {
        string recipe = Path.GetFullPath(recipePath);
        return (Directory.Exists(runsFolder) ? Directory.EnumerateDirectories(runsFolder) : [])
            .Select(folder => (Folder: folder, Record: ReadQuietly(folder)))
            .Where(r => r.Record?.Recipe == recipe)
            .Select(r => (r.Folder, Record: r.Record!))
            .OrderBy(r => DateTimeOffset.TryParse(r.Record.Started, out var t) ? t : DateTimeOffset.MinValue)
            .ToList();
    }

    private static (string, RunRecord) Latest(string recipe, string shownRecipe, string workspace)
    {
        string runs = Path.Combine(workspace, RunsFolder);
        var ofRecipe = RunsOf(recipe, runs);
        if (ofRecipe.Count == 0) throw new InvalidOperationException($"nothing to resume: no run of {shownRecipe} in {runs}");
        var interrupted = ofRecipe.LastOrDefault(r => r.Record.Status != RunStatus.Succeeded);
        if (interrupted.Record is null)
            throw new InvalidOperationException($"nothing to resume: every run of {shownRecipe} in {runs} completed (the latest is {ofRecipe[^1].Folder})");
        return interrupted;
    }

    /// <summary>A folder's record, or null when it has none or an unreadable one (it is then not a candidate).</summary>
    private static RunRecord? ReadQuietly(string folder)
    {
        try { return RunRecord.Read(folder); }
        catch (Exception e) when (e is Sdk.ConfigException or IOException or UnauthorizedAccessException) { return null; }
    }

    private static string Short(string hash) => hash.Length == 0 ? "not recorded" : hash[..Math.Min(12, hash.Length)];
}
