using System.Globalization;

namespace PeftHost.Core.IO;

/// <summary>
/// A folder built next to its destination and moved into place on <see cref="Commit"/>; disposed
/// without a commit, it is deleted. Files already in the destination that the new content does
/// not replace are kept (the user's files are never removed). Inside a confined run every step is
/// checked by <see cref="WriteConfinement"/> first.
/// </summary>
/// <remarks>
/// The commit is one step for readers: a new destination is one rename; an existing one is swapped
/// with the staged folder in one <c>renameat2(RENAME_EXCHANGE)</c>, after the entries it keeps have
/// been hard-linked into the staged folder. Only where the file system cannot swap folders are the
/// files moved one by one. Staging folders carry the writer's process id
/// (<c>.NAME.staging-PID-GUID</c>), so a later save into the same folder removes those of processes
/// that no longer run (a SIGKILL mid-save leaves one behind).
/// </remarks>
public sealed class StagingDirectory : IDisposable
{
    private const string Marker = ".staging-";
    private readonly string _target;
    private bool _committed;

    private StagingDirectory(string target, string path)
    {
        _target = target;
        Path = path;
    }

    /// <summary>The folder to write into.</summary>
    public string Path { get; }

    /// <summary>Creates a staging folder for <paramref name="target"/>, removing leftovers of dead writers beside it.</summary>
    public static StagingDirectory Create(string target)
    {
        string full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(target));
        if (full == WriteConfinement.Folder)
            throw new WriteConfinementException($"{full}: the output folder itself cannot be replaced; save into a folder inside it");
        string parent = System.IO.Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{target}' has no parent folder");
        WriteConfinement.CreateDirectory(parent);
        RemoveLeftovers(parent);
        string path = System.IO.Path.Combine(parent, $".{System.IO.Path.GetFileName(full)}{Marker}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}");
        WriteConfinement.CreateDirectory(path);
        return new StagingDirectory(full, path);
    }

    /// <summary>
    /// Deletes the staging folders in <paramref name="folder"/> whose writer no longer runs. A folder
    /// named without a process id comes from an older PeftHost and is taken as abandoned too.
    /// </summary>
    public static void RemoveLeftovers(string folder)
    {
        if (!Directory.Exists(folder)) return;
        foreach (var entry in Directory.EnumerateDirectories(folder, "*" + Marker + "*"))
        {
            string name = System.IO.Path.GetFileName(entry);
            if (!name.StartsWith('.') || WriterIsAlive(name[(name.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length)..])) continue;
            try { WriteConfinement.DeleteDirectory(entry); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // tried again by the next save
        }
    }

    /// <summary>Moves the staged content into the destination (see the remarks for how).</summary>
    public void Commit()
    {
        WriteConfinement.Check(_target);
        if (!Directory.Exists(_target))
        {
            Directory.Move(Path, _target);
        }
        else
        {
            KeepUnreplacedEntries(_target, Path);
            if (PosixFile.TryExchange(Path, _target))
                DeleteQuietly(Path); // now the previous version
            else
                MoveFilesInto(_target);
        }
        _committed = true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_committed || !Directory.Exists(Path)) return;
        DeleteQuietly(Path);
    }

    /// <summary>Links each entry of <paramref name="from"/> that <paramref name="into"/> does not have into it (folders merged, files hard-linked).</summary>
    private static void KeepUnreplacedEntries(string from, string into)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(from))
        {
            string counterpart = System.IO.Path.Combine(into, System.IO.Path.GetFileName(entry));
            var kind = PosixFile.KindOf(entry, followLinks: false);
            if (kind == PosixFile.Kind.Directory)
            {
                if (PosixFile.KindOf(counterpart, followLinks: false) == PosixFile.Kind.Missing) Directory.CreateDirectory(counterpart);
                if (PosixFile.KindOf(counterpart, followLinks: false) == PosixFile.Kind.Directory) KeepUnreplacedEntries(entry, counterpart);
            }
            else if (PosixFile.KindOf(counterpart, followLinks: false) == PosixFile.Kind.Missing && !PosixFile.TryHardLink(entry, counterpart))
            {
                if (kind != PosixFile.Kind.Regular) continue; // a link or special file that cannot be linked is left with the old version
                File.Copy(entry, counterpart);
            }
        }
    }

    /// <summary>The fallback commit: each staged file renamed over its counterpart.</summary>
    private void MoveFilesInto(string target)
    {
        foreach (var file in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories))
        {
            string destination = System.IO.Path.Combine(target, System.IO.Path.GetRelativePath(Path, file));
            WriteConfinement.CreateDirectory(System.IO.Path.GetDirectoryName(destination)!);
            WriteConfinement.Check(destination);
            File.Move(file, destination, overwrite: true);
        }
        DeleteQuietly(Path);
    }

    private static void DeleteQuietly(string path)
    {
        try { WriteConfinement.DeleteDirectory(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>True when the staging-folder suffix <c>PID-GUID</c> names a running process.</summary>
    private static bool WriterIsAlive(string suffix)
    {
        int dash = suffix.IndexOf('-');
        if (dash <= 0 || !int.TryParse(suffix[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) return false;
        if (pid == Environment.ProcessId) return true; // this process's own saves may be in progress on other threads
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
