using System.Text.Json.Nodes;
using PeftHost.Core.IO;
using static TorchSharp.torch;

namespace PeftHost.Core.Checkpoints;

/// <summary>Writes a state dict as <c>model.safetensors</c>, or as shards with an index when it exceeds a size.</summary>
public static class CheckpointWriter
{
    /// <summary>Hugging Face's default shard size.</summary>
    public const long DefaultMaxShardBytes = 5L * 1024 * 1024 * 1024;

    /// <summary>
    /// Writes <paramref name="state"/> into <paramref name="directory"/>; returns the files written.
    /// Stale shards or index files from an earlier save are removed after the new files are in place.
    /// </summary>
    public static IReadOnlyList<string> Write(string directory, IReadOnlyList<KeyValuePair<string, Tensor>> state,
        long maxShardBytes = DefaultMaxShardBytes, IReadOnlyDictionary<string, string>? metadata = null)
    {
        WriteConfinement.CreateDirectory(directory);
        metadata ??= new Dictionary<string, string> { ["format"] = "pt" };
        var shards = Split(state.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList(), maxShardBytes);
        var written = new List<string>();
        if (shards.Count == 1)
        {
            SafeTensorsWriter.Write(Path.Combine(directory, CheckpointReader.SingleFileName), shards[0], metadata);
            written.Add(CheckpointReader.SingleFileName);
        }
        else
        {
            var weightMap = new JsonObject();
            long total = 0;
            for (int i = 0; i < shards.Count; i++)
            {
                string name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                SafeTensorsWriter.Write(Path.Combine(directory, name), shards[i], metadata);
                written.Add(name);
                foreach (var (key, tensor) in shards[i])
                {
                    weightMap[key] = name;
                    total += tensor.NumberOfElements * tensor.ElementSize;
                }
            }
            var index = new JsonObject
            {
                ["metadata"] = new JsonObject { ["total_size"] = total },
                ["weight_map"] = weightMap,
            };
            AtomicFile.WriteAllText(Path.Combine(directory, CheckpointReader.IndexFileName), index.ToJsonString(Json.Indented));
            written.Add(CheckpointReader.IndexFileName);
        }
        RemoveStale(directory, written);
        return written;
    }

    private static List<List<KeyValuePair<string, Tensor>>> Split(List<KeyValuePair<string, Tensor>> state, long maxShardBytes)
    {
        var shards = new List<List<KeyValuePair<string, Tensor>>> { new() };
        long current = 0;
        foreach (var kv in state)
        {
            long bytes = kv.Value.NumberOfElements * kv.Value.ElementSize;
            if (current > 0 && current + bytes > maxShardBytes)
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(kv);
            current += bytes;
        }
        return shards;
    }

    /// <summary>Deletes checkpoint files in <paramref name="directory"/> (shards, index, single file) that are not in <paramref name="written"/>.</summary>
    internal static void RemoveStale(string directory, IReadOnlyCollection<string> written)
    {
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            string name = Path.GetFileName(file);
            bool isCheckpoint = name == CheckpointReader.SingleFileName || name == CheckpointReader.IndexFileName
                || (name.StartsWith("model-") && name.EndsWith(".safetensors"));
            if (isCheckpoint && !written.Contains(name)) WriteConfinement.DeleteFile(file);
        }
    }
}
