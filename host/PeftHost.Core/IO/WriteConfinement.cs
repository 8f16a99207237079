namespace PeftHost.Core.IO;

/// <summary>
/// Confines every write and delete the host performs to one folder (a recipe run's output folder),
/// as the file system resolves the path at the moment of the operation: the path must lie inside
/// the folder, and no entry along it, from the folder itself down to the last component, may be a
/// symbolic link. A link planted in the folder (say, in a checkpoint bundle extracted there) can
/// therefore never carry a metrics append, a checkpoint, an adapter subfolder or a rotation delete
/// outside it, at whatever depth it sits.
/// </summary>
/// <remarks>
/// The writers themselves (<see cref="AtomicFile"/>, <see cref="StagingDirectory"/>, the metrics log,
/// checkpoint rotation) ask this class before every operation, so the rule lives here once rather
/// than at each call site. The folder is ambient (an <see cref="AsyncLocal{T}"/> set by the recipe
/// runner and inherited by the threads it starts) because those writers know nothing of recipes;
/// outside a confined run (the CLI's own commands) nothing is checked.
/// <para>
/// Remaining race: .NET has no <c>openat</c>, so the check (lstat of each component) and the
/// operation are two steps. A process that can write into the output folder and swaps a component
/// for a link between them still wins; the final component is opened with <c>O_NOFOLLOW</c> or
/// created with <c>O_EXCL</c> (neither follows a link), so only the folders above it are exposed.
/// </para>
/// </remarks>
public static class WriteConfinement
{
    private static readonly AsyncLocal<string?> s_folder = new();

    /// <summary>The folder writes are confined to on this flow, or null when unconfined.</summary>
    public static string? Folder => s_folder.Value;

    /// <summary>
    /// Confines this flow's writes (and those of threads started from it) to <paramref name="realFolder"/>,
    /// an absolute path without links, until the result is disposed.
    /// </summary>
    public static IDisposable Enter(string realFolder)
    {
        string? previous = s_folder.Value;
        s_folder.Value = Path.TrimEndingDirectorySeparator(Path.GetFullPath(realFolder));
        return new Scope(previous);
    }

    /// <summary>
    /// Throws <see cref="WriteConfinementException"/> when writing or deleting <paramref name="path"/> now
    /// would leave the folder, and <see cref="PathTooLongException"/> (confined or not) when the path is
    /// longer than the system allows.
    /// </summary>
    public static void Check(string path)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        PathLimits.Check(full);
        if (s_folder.Value is not { } folder) return;
        if (!IsUnder(full, folder))
            throw new WriteConfinementException($"{full}: outside the output folder {folder}; the host writes only inside it");
        string current = folder;
        var parts = Path.GetRelativePath(folder, full).Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = -1; i < parts.Length; i++)
        {
            if (i >= 0 && parts[i] != ".") current = Path.Combine(current, parts[i]);
            var kind = PosixFile.KindOf(current, followLinks: false);
            if (kind == PosixFile.Kind.Missing) return; // nothing below a missing entry exists either
            if (kind == PosixFile.Kind.SymbolicLink)
                throw new WriteConfinementException(
                    $"{full}: not written, {current} is a symbolic link (to {LinkTarget(current)}); the host never writes through a link in the output folder {folder}");
        }
    }

    /// <summary>Creates <paramref name="path"/> and its missing parents, after <see cref="Check"/>.</summary>
    public static void CreateDirectory(string path)
    {
        Check(path);
        Directory.CreateDirectory(path);
    }

    /// <summary>Deletes folder <paramref name="path"/> and everything in it, after <see cref="Check"/> (links inside are removed, never followed).</summary>
    public static void DeleteDirectory(string path)
    {
        Check(path);
        Directory.Delete(path, recursive: true);
    }

    /// <summary>Deletes file <paramref name="path"/>, after <see cref="Check"/>.</summary>
    public static void DeleteFile(string path)
    {
        Check(path);
        File.Delete(path);
    }

    /// <summary>Opens <paramref name="path"/> for appending (created when missing), after <see cref="Check"/>; a final link is refused by the kernel.</summary>
    public static FileStream OpenAppend(string path)
    {
        Check(path);
        return PosixFile.OpenAppendNoFollow(path);
    }

    private static bool IsUnder(string path, string folder) =>
        path.Equals(folder, StringComparison.Ordinal) || path.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static string LinkTarget(string link)
    {
        try { return new FileInfo(link).LinkTarget ?? "?"; }
        catch (IOException) { return "?"; }
    }

    private sealed class Scope(string? previous) : IDisposable
    {
        public void Dispose() => s_folder.Value = previous;
    }
}

/// <summary>A write or delete the host was about to perform would have left the confined output folder.</summary>
public sealed class WriteConfinementException(string message) : IOException(message);
