namespace PeftHost.Farm.Shipping;

/// <summary>A file a job ships: its path relative to its folder ('/'-separated), its content's SHA-256 and its length.</summary>
[GenerateSerializer]
public sealed record ShippedFile
{
    /// <summary>The path relative to the folder it belongs to, '/'-separated, never rooted nor with <c>..</c>.</summary>
    [Id(0)] public required string Path { get; init; }

    /// <summary>The content's SHA-256, lower-case hex: its name in the blob store and in every silo's cache.</summary>
    [Id(1)] public required string Sha256 { get; init; }

    /// <summary>Its length in bytes.</summary>
    [Id(2)] public required long Length { get; init; }

    /// <summary>
    /// The files under <paramref name="folder"/>, hashed, oldest written first (so a folder whose last-written file
    /// marks it complete, like a checkpoint's trainer state, arrives complete or not at all). Hidden entries (names
    /// starting with '.': locks, staging folders, temporary files) and <paramref name="skip"/> (a folder inside) are
    /// left out.
    /// </summary>
    public static List<ShippedFile> Scan(string folder, string? skip = null, IDictionary<string, (DateTime, long, string)>? hashes = null)
    {
        var found = new List<(ShippedFile File, DateTime Written)>();
        if (!Directory.Exists(folder)) return [];
        string root = System.IO.Path.GetFullPath(folder);
        string? skipped = skip is null ? null : System.IO.Path.GetFullPath(skip).TrimEnd('/');
        void Walk(string dir)
        {
            foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos())
            {
                if (entry.Name.StartsWith('.') || entry.FullName == skipped || entry.LinkTarget is not null) continue;
                if (entry is DirectoryInfo sub) { Walk(sub.FullName); continue; }
                var file = (FileInfo)entry;
                string relative = System.IO.Path.GetRelativePath(root, file.FullName).Replace('\\', '/');
                string sha;
                try { sha = HashOf(file, hashes); }
                catch (FileNotFoundException) { continue; } // removed since it was listed (a rotated checkpoint)
                catch (DirectoryNotFoundException) { continue; }
                found.Add((new ShippedFile { Path = relative, Sha256 = sha, Length = file.Length }, file.LastWriteTimeUtc));
            }
        }
        Walk(root);
        return found.OrderBy(f => f.Written).ThenBy(f => f.File.Path, StringComparer.Ordinal).Select(f => f.File).ToList();
    }

    /// <summary>
    /// The absolute path of <paramref name="relative"/> under <paramref name="folder"/>, refusing one that would land
    /// outside it (a path from another machine is not trusted).
    /// </summary>
    public static string Resolve(string folder, string relative)
    {
        string root = System.IO.Path.GetFullPath(folder);
        string full = System.IO.Path.GetFullPath(System.IO.Path.Combine(root, relative));
        if (System.IO.Path.IsPathRooted(relative) || relative.Split('/').Any(p => p is ".." or "") || !full.StartsWith(root + "/", StringComparison.Ordinal))
            throw new InvalidDataException($"shipped path '{relative}' leaves its folder {folder}");
        return full;
    }

    private static string HashOf(FileInfo file, IDictionary<string, (DateTime, long, string)>? hashes)
    {
        // A file unchanged since it was last hashed (same time and length) keeps its hash: syncing a job's folder
        // every second rehashes only what was written since.
        if (hashes is not null && hashes.TryGetValue(file.FullName, out var known) && known.Item1 == file.LastWriteTimeUtc && known.Item2 == file.Length)
            return known.Item3;
        var written = file.LastWriteTimeUtc;
        string sha;
        using (var stream = file.OpenRead())
            sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
        if (hashes is not null) hashes[file.FullName] = (written, file.Length, sha);
        return sha;
    }
}
