using System.Globalization;
using PeftHost.Core.IO;

namespace PeftHost.Core.Training.Checkpointing;

/// <summary>
/// The checkpoint folders of a run (<c>checkpoints/checkpoint-{step}</c>): listing, the newest,
/// and rotating old ones away (keeping the best). A folder counts only when complete (it holds the trainer state,
/// written last, and folders appear by an atomic rename of a staging folder). A symbolic link named
/// like a checkpoint is not one the trainer wrote: it is neither resumed from nor rotated away.
/// </summary>
public sealed class CheckpointStore(string directory)
{
    /// <summary>The folder-name prefix.</summary>
    public const string Prefix = "checkpoint-";

    /// <summary>The folder holding the checkpoints.</summary>
    public string Directory => directory;

    /// <summary>The folder for step <paramref name="step"/>.</summary>
    public string PathFor(int step) => Path.Combine(directory, Prefix + step.ToString(CultureInfo.InvariantCulture));

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<(int Step, string Path)> List()
    {
        if (!System.IO.Directory.Exists(directory)) return [];
        return System.IO.Directory.EnumerateDirectories(directory, Prefix + "*")
            .Select(path => (Ok: int.TryParse(Path.GetFileName(path)[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int step), Step: step, Path: path))
            .Where(c => c.Ok && PosixFile.KindOf(c.Path, followLinks: false) == PosixFile.Kind.Directory && File.Exists(Path.Combine(c.Path, TrainerState.FileName)))
            .OrderBy(c => c.Step)
            .Select(c => (c.Step, c.Path))
            .ToArray();
    }

    /// <summary>The newest complete checkpoint, or null.</summary>
    public string? Latest() => List() is { Count: > 0 } all ? all[^1].Path : null;

    /// <summary>
    /// Removes the oldest checkpoints until <paramref name="limit"/> are left (Hugging Face's <c>save_total_limit</c>),
    /// never <paramref name="best"/>: as in Hugging Face's rotation, the best checkpoint takes the place of the
    /// second newest, so the newest and the best both survive (a limit of 1 then keeps two). Returns the removed folders.
    /// </summary>
    public IReadOnlyList<string> Prune(int? limit, string? best = null)
    {
        var all = List().Select(c => c.Path).ToList();
        if (limit is not int keep) return [];
        if (best is not null && all.IndexOf(best) is int at and >= 0 && at < all.Count - 1)
        {
            all.RemoveAt(at);
            all.Insert(all.Count - 1, best);
            if (keep == 1) keep = 2;
        }
        var removed = all.Take(Math.Max(0, all.Count - keep)).ToList();
        foreach (var path in removed) WriteConfinement.DeleteDirectory(path);
        return removed;
    }

    /// <summary>Deletes staging folders left behind by a crash while a checkpoint was being written.</summary>
    public void RemoveStaleStaging() => StagingDirectory.RemoveLeftovers(directory);
}
