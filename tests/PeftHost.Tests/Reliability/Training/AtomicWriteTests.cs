using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Reliability.Fuzzing;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace PeftHost.Tests.Reliability.Training;

/// <summary>
/// Every file PeftHost writes goes through a temporary name and a rename (<c>AtomicFile</c>), and
/// folders through a staging folder: a scan of the product sources for file-writing calls, and each
/// writer made to fail half-way (a full disk, a tensor that cannot be read) with the previous file
/// or folder left intact and no temporary files behind.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class AtomicWriteTests(ITestOutputHelper output)
{
    /// <summary>Calls that write files directly.</summary>
    private static readonly Regex Writer = new(
        @"(?<![\w.])File\.(WriteAll\w*|AppendAll\w*|Create|CreateText|OpenWrite|Copy|Move|Replace)\s*\(|File\.Open\([^)]*FileMode\.(Create|Append|OpenOrCreate|Truncate)" +
        @"|new\s+FileStream\([^)]*FileMode\.(Create|CreateNew|Append|OpenOrCreate|Truncate)|new\s+StreamWriter\(\s*[^n)]|Directory\.Move\s*\(|\.(SavePng|SaveJpeg|SaveSvg|SaveBmp|SaveWebp)\s*\(");

    /// <summary>The direct writers that are allowed, and why.</summary>
    private static readonly Dictionary<string, string> Allowed = new()
    {
        ["host/PeftHost.Core/IO/AtomicFile.cs"] = "the mechanism: a temporary file created new, then renamed over the target",
        ["host/PeftHost.Core/IO/StagingDirectory.cs"] = "the mechanism: a staging folder renamed (or its files moved) into place",
        ["host/PeftHost.Core/Training/Metrics/MetricsLog.cs"] = "metrics.jsonl is an append-only log (a torn last line is skipped on resume; TruncateAfter rewrites it atomically)",
        ["host/PeftHost.Farm/JobExecutor.cs"] = "a farm job's stdout.log and stderr.log are append-only logs of the run, appended to by each attempt (a resumed job adds to them)",
        ["host/PeftHost/Commands/MergeCommand.cs"] = "copies tokenizer files into its staging folder, which is then moved into place",
        ["host/PeftHost.Core/Runtime/ProcessMemory.cs"] = "writes the kernel control file /proc/self/clear_refs (resets the peak-memory mark), not a file PeftHost keeps",
    };

    [Fact]
    public void No_product_code_writes_a_file_except_through_AtomicFile_or_a_staging_folder()
    {
        var found = new List<string>();
        int files = 0;
        foreach (var root in new[] { "host", "plugins" })
        {
            foreach (var path in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, root), "*.cs", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(TestPaths.RepoRoot, path).Replace('\\', '/');
                if (relative.Contains("/obj/") || relative.Contains("/bin/")) continue;
                files++;
                var lines = File.ReadAllLines(path);
                for (int i = 0; i < lines.Length; i++)
                {
                    string line = lines[i].Trim();
                    if (line.StartsWith("//") || line.StartsWith("///") || !Writer.IsMatch(line)) continue;
                    if (!Allowed.ContainsKey(relative)) found.Add($"{relative}:{i + 1}: {line}");
                }
            }
        }
        output.WriteLine($"scanned {files} source files");
        ReliabilityLog.Record("atomic writes", $"scanned {files} product source files for direct file writes: {found.Count} outside AtomicFile/StagingDirectory and the {Allowed.Count} allowed places");
        Assert.True(found.Count == 0, "files written without AtomicFile or a staging folder:\n" + string.Join("\n", found));
        Assert.True(files > 100, $"only {files} files scanned");
    }

    [Fact]
    public void A_safetensors_write_that_fails_half_way_leaves_the_previous_file_and_no_temporary_file()
    {
        using var dir = new TempDir();
        string path = dir["weights.safetensors"];
        using var good = arange(12, ScalarType.Float32);
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = good });
        byte[] before = File.ReadAllBytes(path);

        // A tensor whose bytes cannot be read: the header is already in the temporary file when it throws.
        using var unreadable = empty([1024], ScalarType.Float32, META);
        Assert.ThrowsAny<Exception>(() => SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a"] = good, ["z"] = unreadable }));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["weights.safetensors"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Saves_on_a_full_disk_leave_the_previous_version_intact_and_nothing_half_written()
    {
        using var disk = TmpfsMount.TryCreate(2 << 20);
        if (disk is null)
        {
            output.WriteLine("not run: mounting a tmpfs needs root");
            return;
        }
        var config = ModelConfig.FromJson(JsonNode.Parse(Seeds.TinyConfigJson)!.AsObject());
        var results = new List<string>();

        // A model folder: v1 saved, then v2 (other weights and dtype) on a full disk.
        string modelDir = Path.Combine(disk.Path, "model");
        using (var v1 = ModelLoader.CreateRandom(config, seed: 1)) ModelLoader.Save(v1, modelDir);
        var modelBefore = Snapshot(modelDir);
        disk.Fill();
        using (var v2 = ModelLoader.CreateRandom(config, seed: 2)) Assert.ThrowsAny<IOException>(() => ModelLoader.Save(v2, modelDir, ScalarType.Float16));
        Assert.Equal(modelBefore, Snapshot(modelDir));
        Assert.Empty(disk.Leftovers());
        disk.Unfill();
        using (var reloaded = ModelLoader.Load(modelDir)) Assert.Equal(ScalarType.Float32, reloaded.Dtype);
        results.Add("model folder");

        // An adapter folder: v1 (r = 2) saved, then v2 (r = 4): never new weights beside the old config.
        string adapterDir = Path.Combine(disk.Path, "adapter");
        using var baseModel = ModelLoader.CreateRandom(config, seed: 1);
        var peft = new PeftModel(baseModel, new StaticMethodCatalog(new LoraMethod()));
        peft.AddAdapter("lora", new JsonObject { ["r"] = 2, ["targetModules"] = new JsonArray("q_proj") }, "v1");
        peft.SaveAdapter(adapterDir, ["v1"]);
        var adapterBefore = Snapshot(adapterDir);
        peft.AddAdapter("lora", new JsonObject { ["r"] = 4, ["targetModules"] = new JsonArray("q_proj") }, "v2");
        // Room for the new weights (one page) but not for the config after them, while a reader holds
        // the old weights (so replacing them frees nothing): saved one file at a time, the new weights
        // would land beside the old config, a pair that no longer loads.
        disk.Fill();
        disk.Free(4096);
        using (SafeTensorsFile.Open(Path.Combine(adapterDir, "v1", AdapterFiles.WeightsFileName)))
            Assert.ThrowsAny<IOException>(() => AdapterFiles.Write(Path.Combine(adapterDir, "v1"), peft["v2"].Adapter.Config.ToJson(), peft["v2"].Adapter.GetState()));
        Assert.Equal(adapterBefore, Snapshot(adapterDir));
        Assert.Empty(disk.Leftovers());
        disk.Unfill();
        var check = new PeftModel(ModelLoader.CreateRandom(config, seed: 1), new StaticMethodCatalog(new LoraMethod()));
        check.LoadAdapter(Path.Combine(adapterDir, "v1"), "v1");
        check.Base.Dispose();
        results.Add("adapter folder");

        // A tokenizer converted from llama2.c: three files, each intact.
        string tokenizerDir = Path.Combine(disk.Path, "tokenizer");
        Llama2cTokenizerConverter.Convert(TestPaths.Fixture("llama2c", "tok512.bin"), 512, tokenizerDir, modelMaxLength: 64);
        var tokenizerBefore = Snapshot(tokenizerDir);
        disk.Fill();
        Assert.ThrowsAny<IOException>(() => Llama2cTokenizerConverter.Convert(TestPaths.Fixture("llama2c", "tok512.bin"), 512, tokenizerDir, modelMaxLength: 4096));
        Assert.Equal(tokenizerBefore, Snapshot(tokenizerDir));
        Assert.Empty(disk.Leftovers());
        disk.Unfill();
        results.Add("tokenizer folder");

        ReliabilityLog.Record("atomic writes", $"full disk during a save: {string.Join(", ", results)} keep the previous version byte for byte, no temporary or staging files left");
    }

    /// <summary>Every file of a folder (recursively) with its bytes, as one comparable text.</summary>
    private static string Snapshot(string folder) => string.Join("\n",
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => $"{Path.GetRelativePath(folder, f)} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))}"));
}
