using PeftHost.Core.IO;

namespace PeftHost.Core.Recipes.Sandbox;

/// <summary>
/// A recipe run's output folder, opened for the run: refused when it is the file system's root or a
/// system folder, created, locked against a second run (<see cref="FolderLock"/>), cleared of the
/// staging folders of killed saves, and made the one place the host writes to
/// (<see cref="WriteConfinement"/>) until disposed.
/// </summary>
public sealed class RunOutputFolder : IDisposable
{
    // Folders whose content belongs to the system: an output folder may be none of them nor inside one.
    private static readonly string[] SystemTrees = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/usr"];

    // Folders that hold everyone's files: an output folder may be inside them, not one of them.
    private static readonly string[] SharedRoots = ["/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var", "/var/tmp"];

    private readonly FolderLock _lock;
    private readonly IDisposable _confinement;

    private RunOutputFolder(string path, FolderLock folderLock, IDisposable confinement)
    {
        Path = path;
        _lock = folderLock;
        _confinement = confinement;
    }

    /// <summary>The folder's real path (links resolved).</summary>
    public string Path { get; }

    /// <summary>The process id of a killed run whose lock this run took over, or null.</summary>
    public int? TakenOverFrom => _lock.TakenOverFrom;

    /// <summary>Opens <paramref name="folder"/> for a run on this thread (and the threads it starts).</summary>
    /// <exception cref="IOException">The folder is refused, cannot be created, or another run holds it.</exception>
    public static RunOutputFolder Open(string folder)
    {
        string full = System.IO.Path.GetFullPath(folder);
        PathLimits.Check(full);
        RefuseSystemFolder(folder, full);
        Directory.CreateDirectory(full);
        string real = RealPath.Resolve(full);
        RefuseSystemFolder(folder, real);
        var folderLock = FolderLock.Acquire(real);
        try
        {
            var confinement = WriteConfinement.Enter(real);
            StagingDirectory.RemoveLeftovers(real);
            return new RunOutputFolder(real, folderLock, confinement);
        }
        catch
        {
            folderLock.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _confinement.Dispose();
        _lock.Dispose();
    }

    private static void RefuseSystemFolder(string given, string path)
    {
        string p = System.IO.Path.TrimEndingDirectorySeparator(path);
        string home = System.IO.Path.TrimEndingDirectorySeparator(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
        if (SharedRoots.Contains(p) || (home.Length > 1 && p == home))
            throw new IOException($"{given}: {(p == "/" ? "the root folder" : "a folder shared with other files")} cannot be an output folder (a run writes and deletes there); choose a folder of its own inside it");
        if (SystemTrees.Any(t => p == t || p.StartsWith(t + "/", StringComparison.Ordinal)))
            throw new IOException($"{given}: a system folder cannot be an output folder; choose a folder of your own");
    }
}
