using System.Globalization;
using System.Text;

namespace PeftHost.Core.IO;

/// <summary>
/// An exclusive lock on a folder for one run: the file <c>.peft.lock</c> in it, held with an advisory
/// <c>flock</c> and holding the owner's process id. The kernel drops the lock when its owner ends,
/// however it ends, so the lock of a killed run is simply taken over by the next one (its pid is
/// still in the file, which is how <see cref="TakenOverFrom"/> knows); a run that ends normally
/// empties the file before letting go.
/// </summary>
public sealed class FolderLock : IDisposable
{
    /// <summary>The lock file's name.</summary>
    public const string FileName = ".peft.lock";

    private readonly FileStream _file;

    private FolderLock(FileStream file, int? takenOverFrom)
    {
        _file = file;
        TakenOverFrom = takenOverFrom;
    }

    /// <summary>The process id left in the lock file by a run that ended without releasing it (killed), or null.</summary>
    public int? TakenOverFrom { get; }

    /// <summary>Locks <paramref name="folder"/> (which must exist); throws <see cref="FolderInUseException"/> when another run holds it.</summary>
    public static FolderLock Acquire(string folder)
    {
        string path = Path.Combine(folder, FileName);
        var file = PosixFile.OpenReadWriteNoFollow(path);
        try
        {
            int? recorded = RecordedPid(file);
            if (!PosixFile.TryLockExclusive(file, path))
                throw new FolderInUseException(folder, recorded);
            file.SetLength(0);
            file.Write(Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));
            return new FolderLock(file, recorded);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try { _file.SetLength(0); } catch (IOException) { } // a clean end leaves no pid behind
        _file.Dispose(); // closing the last descriptor releases the flock
    }

    private static int? RecordedPid(FileStream file)
    {
        var buffer = new byte[32];
        int read = file.Read(buffer);
        file.Position = 0;
        return int.TryParse(Encoding.ASCII.GetString(buffer, 0, read).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
    }
}

/// <summary>A folder is locked by another run.</summary>
public sealed class FolderInUseException(string folder, int? holder)
    : IOException($"{folder}: the output folder is in use by another run ({(holder is int pid ? $"process {pid}" : "a process that is starting")}); wait for it to end or choose another output folder")
{
    /// <summary>The holder's process id, when it has written it yet.</summary>
    public int? Holder { get; } = holder;
}
