using System.Runtime.InteropServices;
using PeftHost.Core.IO;

namespace PeftHost.Farm.Shipping;

/// <summary>
/// A silo's content-addressed cache, <c>WORK/blobs/&lt;sha256&gt;</c>: a blob is fetched from the farm's Redis the
/// first time a job on this silo needs it and reused by every later job (a sweep's jobs share their model and data).
/// Files are placed into a job's folder as hard links to the cached blob (a copy where linking fails).
/// </summary>
public sealed class BlobCache(BlobStore store, FarmSiloOptions options)
{
    private readonly Lock _fetching = new();

    /// <summary>How many blobs this cache fetched (each at most once).</summary>
    public int Fetches { get; private set; }

    /// <summary>
    /// Puts <paramref name="file"/>'s content at <paramref name="destination"/>, fetching its blob unless cached: a
    /// hard link when <paramref name="link"/> (read-only inputs), else a copy (files the run goes on writing).
    /// </summary>
    public void Place(ShippedFile file, string destination, string what, bool link)
    {
        string blob = Path.Combine(options.WorkFolder, "blobs", file.Sha256);
        lock (_fetching) // two slots needing the same blob fetch it once
        {
            if (!File.Exists(blob))
            {
                store.Get(file.Sha256, blob);
                Fetches++;
                options.Log?.Invoke($"[farm] fetched blob {file.Sha256} ({file.Length} bytes) for {what}");
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        File.Delete(destination);
        if (link && Link(blob, destination) == 0) return; // a hard link appears whole
        AtomicFile.Write(destination, output => { using var source = File.OpenRead(blob); source.CopyTo(output); });
    }

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link([MarshalAs(UnmanagedType.LPUTF8Str)] string existing, [MarshalAs(UnmanagedType.LPUTF8Str)] string created);
}
