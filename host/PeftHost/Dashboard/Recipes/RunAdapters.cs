using PeftHost.Core.Peft;
using PeftHost.Core.Recipes;
using PeftHost.Core.Training.Checkpointing;

namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>
/// The adapter folders a run left in its output folder: the adapter its recipe saved, and the trainer's checkpoints
/// (<c>…/checkpoints/checkpoint-N</c>, which hold the trained adapters in PEFT's layout beside the trainer state, so
/// they load as adapters too). A stopped run has only its checkpoints; the newest is what it trained up to.
/// </summary>
public static class RunAdapters
{
    /// <summary>
    /// The folder to offer for loading from the run in <paramref name="runFolder"/>: the adapter the recipe saved when
    /// the run completed, else the newest complete checkpoint (a stopped or failed run), else a saved adapter; null when none.
    /// </summary>
    public static string? Offer(string runFolder)
    {
        bool completed = ReadStatus(runFolder) == RunStatus.Succeeded;
        string? saved = Saved(runFolder);
        return completed && saved is not null ? saved : NewestCheckpoint(runFolder) ?? saved;
    }

    /// <summary>The shallowest adapter folder the recipe saved (outside its checkpoints), or null.</summary>
    public static string? Saved(string runFolder) => Search(runFolder, () => Directory.EnumerateFiles(runFolder, AdapterFiles.ConfigFileName, SearchOption.AllDirectories)
        .Select(Path.GetDirectoryName)
        .OfType<string>()
        .Where(d => !Path.GetRelativePath(runFolder, d).Split(Path.DirectorySeparatorChar).Contains(CheckpointsFolder))
        .OrderBy(d => d.Count(c => c == Path.DirectorySeparatorChar))
        .ThenBy(d => d, StringComparer.Ordinal)
        .FirstOrDefault());

    /// <summary>The run's complete checkpoints that hold an adapter, oldest first (by the time each was written).</summary>
    public static IReadOnlyList<string> Checkpoints(string runFolder) => Search(runFolder, () => Directory
        .EnumerateDirectories(runFolder, CheckpointsFolder, SearchOption.AllDirectories)
        .SelectMany(d => new CheckpointStore(d).List())
        .Where(c => File.Exists(Path.Combine(c.Path, AdapterFiles.ConfigFileName)))
        .OrderBy(c => File.GetLastWriteTimeUtc(Path.Combine(c.Path, TrainerState.FileName)))
        .ThenBy(c => c.Step)
        .Select(c => c.Path)
        .ToList()) ?? [];

    /// <summary>The newest complete checkpoint holding an adapter, or null.</summary>
    public static string? NewestCheckpoint(string runFolder) => Checkpoints(runFolder) is { Count: > 0 } all ? all[^1] : null;

    /// <summary>The folder a trainer writes its checkpoints into, under its output folder.</summary>
    private const string CheckpointsFolder = "checkpoints";

    private static RunStatus? ReadStatus(string runFolder)
    {
        try { return RunRecord.Read(runFolder)?.Status; }
        catch (Exception e) when (e is PeftHost.Sdk.ConfigException or IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>What <paramref name="search"/> finds in <paramref name="runFolder"/>; null when the folder is gone or unreadable.</summary>
    private static T? Search<T>(string runFolder, Func<T?> search) where T : class
    {
        try { return Directory.Exists(runFolder) ? search() : null; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
