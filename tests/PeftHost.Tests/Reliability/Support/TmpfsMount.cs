using System.Diagnostics;

namespace PeftHost.Tests.Reliability.Support;

/// <summary>
/// A small tmpfs mounted on a temporary folder (root only): a disk that can be filled up or made
/// read-only in the middle of a test. <see cref="TryCreate"/> returns null where mounting is not
/// allowed, and the tests that need one say so in their output.
/// </summary>
public sealed class TmpfsMount : IDisposable
{
    private TmpfsMount(string path) => Path = path;

    /// <summary>The mount point.</summary>
    public string Path { get; }

    private string Filler => System.IO.Path.Combine(Path, ".filler");

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> bytes, or returns null when that is not possible here.</summary>
    public static TmpfsMount? TryCreate(long bytes)
    {
        if (!OperatingSystem.IsLinux()) return null;
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pefthost-tests", "tmpfs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        if (Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", path) == 0) return new TmpfsMount(path);
        Directory.Delete(path);
        return null;
    }

    /// <summary>Writes a filler file until the disk is full (ENOSPC).</summary>
    public void Fill()
    {
        var chunk = new byte[4096];
        try
        {
            using var stream = new FileStream(Filler, FileMode.Append, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
            while (true) stream.Write(chunk);
        }
        catch (IOException) { } // full
        Assert.True(new DriveInfo(Path).AvailableFreeSpace < 8192, $"{Path} still has {new DriveInfo(Path).AvailableFreeSpace} bytes free");
    }

    /// <summary>After <see cref="Fill"/>, gives back <paramref name="bytes"/> (whole pages): room for a small file, not two.</summary>
    public void Free(long bytes)
    {
        using var stream = new FileStream(Filler, FileMode.Open, FileAccess.Write);
        stream.SetLength(Math.Max(0, stream.Length - bytes));
    }

    /// <summary>Frees what <see cref="Fill"/> took.</summary>
    public void Unfill() => File.Delete(Filler);

    /// <summary>
    /// Makes <paramref name="folder"/> (inside this mount) read-only with a read-only bind mount of
    /// itself: its content stays visible, writes there fail with EROFS, even for root, while files
    /// held open elsewhere on the disk stay writable. Disposing unmounts it.
    /// </summary>
    public IDisposable MountReadOnlyOver(string folder)
    {
        Assert.Equal(0, Run("mount", "--bind", folder, folder));
        Assert.Equal(0, Run("mount", "-o", "remount,bind,ro", folder));
        return new Unmount(folder);
    }

    private sealed class Unmount(string folder) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            Assert.Equal(0, Run("umount", folder));
        }
    }

    /// <summary>Remounts read-only (or read-write again): writes then fail with EROFS, even for root. Needs no file open for writing.</summary>
    public void SetReadOnly(bool readOnly) =>
        Assert.Equal(0, Run("mount", "-o", readOnly ? "remount,ro" : "remount,rw", Path));

    /// <summary>Every temporary or staging entry under the mount (what a failed write must not leave behind).</summary>
    public IReadOnlyList<string> Leftovers() =>
        Directory.EnumerateFileSystemEntries(Path, "*", SearchOption.AllDirectories)
            .Where(p => p != Filler && (p.EndsWith(".tmp", StringComparison.Ordinal) || System.IO.Path.GetFileName(p).Contains(".staging-", StringComparison.Ordinal)))
            .ToList();

    public void Dispose()
    {
        Run("umount", "-l", Path);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }

    private static int Run(string file, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in args) start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception) { return -1; } // no such program
    }
}
