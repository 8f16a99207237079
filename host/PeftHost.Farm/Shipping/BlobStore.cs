using System.Globalization;
using System.Security.Cryptography;
using PeftHost.Core.IO;
using StackExchange.Redis;

namespace PeftHost.Farm.Shipping;

/// <summary>
/// Content-addressed blobs and each shipped job's file list in the farm's Redis, under names derived from the
/// cluster id (so farms keyed differently share nothing). A blob is stored as 4 MiB chunks and a header written
/// last, so a reader sees a blob whole or not at all; blobs expire <see cref="Lifetime"/> after their upload.
/// </summary>
public sealed class BlobStore(IDatabase redis, string clusterId)
{
    /// <summary>
    /// Redis options for blob traffic: <paramref name="connectionString"/> with a 30 s synchronous timeout instead of
    /// StackExchange.Redis' 5 s, since a 4 MiB chunk on a busy machine (a silo training at full load) can take longer.
    /// </summary>
    public static ConfigurationOptions ConnectionOptions(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.SyncTimeout = 30_000;
        return options;
    }

    /// <summary>Bytes per Redis value.</summary>
    public const int ChunkSize = 4 << 20;

    /// <summary>How long a blob stays in Redis after it was (last) uploaded.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(7);

    private string BlobKey(string sha) => $"peft:{clusterId}:blob:{sha}";

    private string FilesKey(string jobId) => $"peft:{clusterId}:files:{jobId}";

    /// <summary>Whether the blob is stored (whole).</summary>
    public bool Has(string sha) => redis.KeyExists(BlobKey(sha));

    /// <summary>Stores <paramref name="path"/>'s content as blob <paramref name="sha"/> unless it is there already; true when it uploaded.</summary>
    public bool Put(string sha, string path)
    {
        if (Has(sha)) return false;
        using var stream = File.OpenRead(path);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[ChunkSize];
        int chunks = 0;
        long length = 0;
        int read;
        while ((read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)) > 0)
        {
            redis.StringSet($"{BlobKey(sha)}:{chunks++}", buffer.AsMemory(0, read), Lifetime);
            hash.AppendData(buffer, 0, read);
            length += read;
        }
        // The file changed since it was hashed (a log still being written): not stored; the next sync ships it.
        if (Convert.ToHexStringLower(hash.GetHashAndReset()) != sha) return false;
        redis.StringSet(BlobKey(sha), $"{length} {chunks}", Lifetime);
        return true;
    }

    /// <summary>Writes blob <paramref name="sha"/> to <paramref name="destination"/> (a temporary file, then renamed), checking its hash.</summary>
    /// <exception cref="InvalidDataException">The blob is missing, expired or damaged.</exception>
    public void Get(string sha, string destination)
    {
        string? header = redis.StringGet(BlobKey(sha));
        if (header is null) throw new InvalidDataException($"blob {sha} is not in the farm's Redis (expired after {Lifetime.TotalDays:F0} days, or never shipped)");
        int chunks = int.Parse(header.Split(' ')[1], CultureInfo.InvariantCulture);
        // Written whole or not at all (AtomicFile): a damaged or incomplete blob throws before the rename.
        AtomicFile.Write(destination, output =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (int i = 0; i < chunks; i++)
            {
                byte[]? chunk = redis.StringGet($"{BlobKey(sha)}:{i}");
                if (chunk is null) throw new InvalidDataException($"blob {sha} lost its chunk {i} (expired?)");
                output.Write(chunk);
                hash.AppendData(chunk);
            }
            if (Convert.ToHexStringLower(hash.GetHashAndReset()) != sha) throw new InvalidDataException($"blob {sha} is damaged (its content hashes differently)");
        });
    }

    /// <summary>The files a job's silos shipped back so far: path → file.</summary>
    public Dictionary<string, ShippedFile> Files(string jobId) =>
        redis.HashGetAll(FilesKey(jobId)).ToDictionary(e => (string)e.Name!, e =>
        {
            string[] v = ((string)e.Value!).Split(' ');
            return new ShippedFile { Path = e.Name!, Sha256 = v[0], Length = long.Parse(v[1], CultureInfo.InvariantCulture) };
        });

    /// <summary>Records that the job's folder holds <paramref name="file"/> (its blob already stored).</summary>
    public void SetFile(string jobId, ShippedFile file)
    {
        redis.HashSet(FilesKey(jobId), file.Path, $"{file.Sha256} {file.Length.ToString(CultureInfo.InvariantCulture)}");
        redis.KeyExpire(FilesKey(jobId), Lifetime);
    }

    /// <summary>Records that the job's folder no longer holds <paramref name="path"/> (a rotated-away checkpoint).</summary>
    public void RemoveFile(string jobId, string path) => redis.HashDelete(FilesKey(jobId), path);

    /// <summary>Forgets a collected job's file list.</summary>
    public void ForgetFiles(string jobId) => redis.KeyDelete(FilesKey(jobId));
}
