using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using static TorchSharp.torch;

namespace PeftHost.Core.Checkpoints;

/// <summary>
/// The tensors of a Hugging Face model folder: <c>model.safetensors</c>, or the shards listed in
/// <c>model.safetensors.index.json</c>, presented as one key → tensor map.
/// </summary>
public sealed class CheckpointReader : IDisposable
{
    /// <summary>The single-file checkpoint name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The sharded checkpoint index name.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _byKey;

    private CheckpointReader(List<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> byKey)
    {
        _files = files;
        _byKey = byKey;
    }

    /// <summary>Every tensor key in the checkpoint.</summary>
    public IReadOnlyCollection<string> Keys => _byKey.Keys;

    /// <summary>True when <paramref name="directory"/> holds a checkpoint this reader understands.</summary>
    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, SingleFileName)) || File.Exists(Path.Combine(directory, IndexFileName));

    /// <summary>Opens the checkpoint in <paramref name="directory"/>.</summary>
    public static CheckpointReader Open(string directory)
    {
        string single = Path.Combine(directory, SingleFileName);
        string index = Path.Combine(directory, IndexFileName);
        if (File.Exists(index)) return OpenSharded(directory, index);
        if (File.Exists(single))
        {
            var file = SafeTensorsFile.Open(single);
            return new CheckpointReader([file], file.Entries.Keys.ToDictionary(k => k, _ => file));
        }
        throw new ModelFormatException(directory, $"no {SingleFileName} or {IndexFileName}");
    }

    /// <summary>The header entry of <paramref name="key"/>.</summary>
    public SafeTensorEntry Entry(string key) => _byKey[key].Entries[key];

    /// <summary>Reads <paramref name="key"/> into a new CPU tensor, converted to <paramref name="dtype"/> when given.</summary>
    public Tensor Read(string key, ScalarType? dtype = null) => FileOf(key).Read(key, dtype);

    /// <summary>Copies many tensors at once, the straight copies in parallel (see <see cref="SafeTensorsFile.ReadManyInto"/>).</summary>
    public void ReadManyInto(IEnumerable<(string Key, Tensor Destination)> reads) =>
        SafeTensorsFile.ReadManyInto(reads.Select(r => (FileOf(r.Key), r.Key, r.Destination)));

    private SafeTensorsFile FileOf(string key) =>
        _byKey.TryGetValue(key, out var file) ? file : throw new KeyNotFoundException($"checkpoint has no tensor '{key}'");

    private static CheckpointReader OpenSharded(string directory, string indexPath)
    {
        JsonObject index;
        try { index = IO.StrictJson.ParseNode(File.ReadAllBytes(indexPath)) as JsonObject ?? throw new ModelFormatException(indexPath, "expected a JSON object"); }
        catch (JsonException e) { throw new ModelFormatException(indexPath, $"invalid JSON: {e.Message}"); }
        if (index["weight_map"] is not JsonObject weightMap)
            throw new ModelFormatException(indexPath, "'weight_map' missing or not an object");

        var files = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        var byKey = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (key, node) in weightMap)
            {
                string? shard = node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
                if (string.IsNullOrEmpty(shard) || shard.Contains('/') || shard.Contains('\\') || shard.StartsWith('.'))
                    throw new ModelFormatException(indexPath, $"weight_map['{key}']: '{node?.ToJsonString()}' is not a shard file name in this folder");
                if (!files.TryGetValue(shard, out var file))
                    files[shard] = file = SafeTensorsFile.Open(Path.Combine(directory, shard));
                if (!file.Entries.ContainsKey(key))
                    throw new ModelFormatException(file.Path, $"index says it holds '{key}', but it does not");
                byKey[key] = file;
            }
        }
        catch
        {
            foreach (var f in files.Values) f.Dispose();
            throw;
        }
        return new CheckpointReader(files.Values.ToList(), byKey);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
