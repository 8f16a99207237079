using PeftHost.Farm;
using PeftHost.Farm.Shipping;
using PeftHost.Tests.Recipes;
using StackExchange.Redis;

namespace PeftHost.Tests.Farm;

/// <summary>
/// The pieces of content-hash shipping against a real Redis: blobs round-trip in chunks and are checked against
/// their hash, a job's shipped folder is collected (and rotated files removed) on the submitter, and paths from
/// another machine cannot leave their folder.
/// </summary>
public sealed class ShippingTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void A_shipped_path_cannot_leave_its_folder_and_hidden_entries_are_not_shipped()
    {
        string folder = Path.Combine(_h.Folder, "job");
        Assert.Equal(Path.Combine(folder, "train", "a.bin"), ShippedFile.Resolve(folder, "train/a.bin"));
        foreach (string bad in new[] { "../x", "train/../../x", "/etc/passwd", "a//b", "" })
            Assert.Throws<InvalidDataException>(() => ShippedFile.Resolve(folder, bad));

        Directory.CreateDirectory(Path.Combine(folder, ".staging-1"));
        File.WriteAllText(Path.Combine(folder, ".staging-1", "x"), "in progress");
        File.WriteAllText(Path.Combine(folder, ".peft.lock"), "");
        File.WriteAllText(Path.Combine(folder, "first.txt"), "1");
        File.SetLastWriteTimeUtc(Path.Combine(folder, "first.txt"), DateTime.UtcNow.AddMinutes(-1));
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        File.WriteAllText(Path.Combine(folder, "sub", "second.txt"), "22");
        var files = ShippedFile.Scan(folder);
        Assert.Equal(["first.txt", "sub/second.txt"], files.Select(f => f.Path)); // oldest written first
        Assert.Equal(2, files[1].Length);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("22"u8)), files[1].Sha256);
    }

    [Fact]
    public void A_recipe_folder_too_big_to_ship_is_refused_by_name_and_its_runs_and_out_folders_are_left_out()
    {
        string folder = Path.Combine(_h.Folder, "home");
        Directory.CreateDirectory(Path.Combine(folder, "runs", "old"));
        File.WriteAllText(Path.Combine(folder, "tune.js"), "// recipe");
        for (int i = 0; i <= InputManifest.MaxRecipeFolderFiles; i++) File.WriteAllText(Path.Combine(folder, "runs", "old", $"{i}.txt"), "x");
        var manifest = new InputManifest(Path.Combine(folder, "tune.js"), Path.Combine(_h.Folder, "empty-workspace"), Path.Combine(folder, "out"));
        Assert.Equal(["recipe/tune.js"], manifest.Files.Select(f => f.Path));

        Directory.Move(Path.Combine(folder, "runs", "old"), Path.Combine(folder, "stuff"));
        var refused = Assert.Throws<ArgumentException>(() => new InputManifest(Path.Combine(folder, "tune.js"), folder, Path.Combine(folder, "out")));
        Assert.Contains(folder, refused.Message);
        Assert.Contains("--shared-storage", refused.Message);
    }

    [SkippableFact]
    public void Blobs_round_trip_in_chunks_and_a_jobs_outputs_are_collected_with_rotated_files_removed()
    {
        Skip.IfNot(File.Exists(FarmCluster.RedisServer), $"{FarmCluster.RedisServer} is missing (.ci/run installs redis-server)");
        using var farm = new FarmCluster();
        using var redis = ConnectionMultiplexer.Connect(BlobStore.ConnectionOptions(ClusterAddress.Parse(farm.Address).ConnectionString));
        var store = new BlobStore(redis.GetDatabase(), ClusterAddress.ClusterIdFor(farm.Key));

        // A blob of more than two chunks.
        string big = Path.Combine(_h.Folder, "big.bin");
        var bytes = new byte[BlobStore.ChunkSize * 2 + 12345];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(big, bytes);
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        Assert.False(store.Has(sha));
        Assert.True(store.Put(sha, big));
        Assert.False(store.Put(sha, big)); // stored once
        string back = Path.Combine(_h.Folder, "back", "big.bin");
        store.Get(sha, back);
        Assert.Equal(bytes, File.ReadAllBytes(back));
        Assert.Contains("not in the farm's Redis", Assert.Throws<InvalidDataException>(() => store.Get(new string('0', 64), back)).Message);
        // Redis is not trusted blindly: a chunk changed there is caught by the hash.
        redis.GetDatabase().StringSet($"peft:{ClusterAddress.ClusterIdFor(farm.Key)}:blob:{sha}:1", new byte[] { 1, 2, 3 });
        Assert.Contains("damaged", Assert.Throws<InvalidDataException>(() => store.Get(sha, back)).Message);

        // A silo's output folder shipped, then a checkpoint rotated away: the submitter's copy follows.
        string silo = Path.Combine(_h.Folder, "silo-out");
        Directory.CreateDirectory(Path.Combine(silo, "checkpoints", "checkpoint-1"));
        File.WriteAllText(Path.Combine(silo, "checkpoints", "checkpoint-1", "state.json"), "{\"step\":1}");
        File.WriteAllText(Path.Combine(silo, "run.json"), "{}");
        var job = new FarmJob { Id = "s/j", Sweep = "s", Name = "j", OutputFolder = Path.Combine(_h.Folder, "out", "j") };
        var reports = new List<string>();
        var collector = new OutputCollector(store, [job], reports.Add);
        using (var shipper = new OutputShipper(store, job.Id, silo, []))
        {
            shipper.Ship();
            collector.Collect();
            Assert.Equal("{\"step\":1}", File.ReadAllText(Path.Combine(job.OutputFolder, "checkpoints", "checkpoint-1", "state.json")));
            Directory.Delete(Path.Combine(silo, "checkpoints", "checkpoint-1"), recursive: true);
            File.WriteAllText(Path.Combine(silo, "run.json"), "{\"status\":\"succeeded\"}");
            shipper.Finish();
        }
        collector.Collect();
        Assert.False(File.Exists(Path.Combine(job.OutputFolder, "checkpoints", "checkpoint-1", "state.json")));
        Assert.Equal("{\"status\":\"succeeded\"}", File.ReadAllText(Path.Combine(job.OutputFolder, "run.json")));
        Assert.Empty(reports);
        collector.Forget();
        Assert.Empty(store.Files(job.Id));
    }
}
