namespace PeftHost.Core.IO;

/// <summary>
/// Refuses paths that name something other than a regular file or a folder — a named pipe (FIFO), a
/// device or a socket — before a reader opens them: opening a FIFO blocks until a writer appears,
/// and a device such as <c>/dev/zero</c> never ends. Links are followed (what matters is what a
/// reader would open). The entry points (the recipe path policy, the CLI's file and folder
/// arguments) check here, so every reader behind them sees regular files only.
/// </summary>
public static class RegularFiles
{
    /// <summary>Throws <see cref="IOException"/> when <paramref name="path"/> exists and is neither a regular file nor a folder.</summary>
    public static void Require(string path)
    {
        var kind = PosixFile.KindOf(path, followLinks: true);
        if (kind is PosixFile.Kind.Missing or PosixFile.Kind.Regular or PosixFile.Kind.Directory) return;
        string what = kind switch
        {
            PosixFile.Kind.Fifo => "a named pipe (FIFO)",
            PosixFile.Kind.CharacterDevice or PosixFile.Kind.BlockDevice => "a device",
            _ => "a socket",
        };
        throw new IOException($"{path}: is {what}, not a regular file; refused, since reading it may block or never end");
    }

    /// <summary><see cref="Require"/> for <paramref name="folder"/>'s own entries (the files a loader of that folder opens).</summary>
    public static void RequireInFolder(string folder)
    {
        if (!Directory.Exists(folder)) return; // the loader reports a missing folder in its own words
        foreach (var entry in Directory.EnumerateFileSystemEntries(folder)) Require(entry);
    }
}
