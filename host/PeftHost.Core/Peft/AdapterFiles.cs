using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.IO;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Core.Peft;

/// <summary>
/// Hugging Face PEFT's adapter folder: <c>adapter_config.json</c> (sorted keys) and
/// <c>adapter_model.safetensors</c> (keys without the adapter name). A non-default adapter
/// lives in a subfolder named after it.
/// </summary>
public static class AdapterFiles
{
    /// <summary>The config file name.</summary>
    public const string ConfigFileName = "adapter_config.json";

    /// <summary>The weights file name.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>The adapter name PEFT saves at the folder's root.</summary>
    public const string DefaultAdapterName = "default";

    /// <summary>The folder adapter <paramref name="adapterName"/> is saved to under <paramref name="root"/>.</summary>
    public static string FolderFor(string root, string adapterName) =>
        adapterName == DefaultAdapterName ? root : Path.Combine(root, adapterName);

    /// <summary>
    /// The metadata key of <c>adapter_model.safetensors</c> holding the SHA-256 of the
    /// <c>adapter_config.json</c> saved with it: a reader checks that the two files it read belong to
    /// one save (PEFT ignores metadata it does not know).
    /// </summary>
    public const string ConfigHashKey = "pefthost_adapter_config_sha256";

    private const int ReadAttempts = 4;

    /// <summary>
    /// Writes one adapter's config and tensors into <paramref name="directory"/>. Both files are
    /// written in a staging folder that replaces the folder in one step (<see cref="StagingDirectory"/>),
    /// so a failed save never pairs new weights with the previous config; other files in the folder
    /// are kept. The weights record their config's hash (<see cref="ConfigHashKey"/>).
    /// A <paramref name="modelCard"/> is written beside them as README.md, as PEFT does.
    /// </summary>
    public static void Write(string directory, JsonObject config, IReadOnlyDictionary<string, Tensor> state, string? modelCard = null)
    {
        byte[] configBytes = new System.Text.UTF8Encoding(false).GetBytes(Sorted(config).ToJsonString(Json.Indented));
        using var staging = StagingDirectory.Create(directory);
        SafeTensorsWriter.Write(Path.Combine(staging.Path, WeightsFileName), state,
            new Dictionary<string, string> { ["format"] = "pt", [ConfigHashKey] = Hash(configBytes) });
        AtomicFile.Write(Path.Combine(staging.Path, ConfigFileName), s => s.Write(configBytes));
        if (modelCard is not null) AtomicFile.WriteAllText(Path.Combine(staging.Path, ModelCard.FileName), modelCard);
        staging.Commit();
    }

    /// <summary>
    /// Reads an adapter folder's config and tensors (onto the CPU) from one save. The pair is taken
    /// when the weights record the config's hash, or when neither file was replaced while they were
    /// read (a config edited by hand after the save, as PEFT users do, or a folder PEFT wrote).
    /// Otherwise the folder was being saved again meanwhile, and both are read again.
    /// </summary>
    public static (JsonObject Config, Dictionary<string, Tensor> State) Read(string directory)
    {
        for (int attempt = 1; ; attempt++)
        {
            var before = Stamp(directory);
            byte[] configBytes = ReadConfigBytes(directory);
            var config = ParseConfig(directory, configBytes);
            var (state, recordedHash) = ReadStateAndHash(directory);
            if (recordedHash is null || recordedHash == Hash(configBytes) || before == Stamp(directory)) return (config, state);
            foreach (var t in state.Values) t.Dispose();
            if (attempt == ReadAttempts)
                throw new IOException($"{directory}: the adapter folder was saved again each of the {ReadAttempts} times it was read; try again when the save is done");
            Thread.Sleep(20 * attempt);
        }
    }

    /// <summary>Reads an adapter folder's config.</summary>
    public static JsonObject ReadConfig(string directory) => ParseConfig(directory, ReadConfigBytes(directory));

    /// <summary>Reads an adapter folder's tensors onto the CPU.</summary>
    public static Dictionary<string, Tensor> ReadState(string directory) => ReadStateAndHash(directory).State;

    /// <summary>When and how large both files are: a save replaces them with new files, which changes this.</summary>
    private static (DateTime, long, DateTime, long) Stamp(string directory)
    {
        var config = new FileInfo(Path.Combine(directory, ConfigFileName));
        var weights = new FileInfo(Path.Combine(directory, WeightsFileName));
        return (config.LastWriteTimeUtc, config.Exists ? config.Length : -1, weights.LastWriteTimeUtc, weights.Exists ? weights.Length : -1);
    }

    private static byte[] ReadConfigBytes(string directory)
    {
        string path = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(path)) throw new ConfigException($"{path}: not found (is '{directory}' a PEFT adapter folder?)");
        return File.ReadAllBytes(path);
    }

    private static JsonObject ParseConfig(string directory, byte[] bytes)
    {
        string path = Path.Combine(directory, ConfigFileName);
        try
        {
            return StrictJson.ParseNode(bytes) as JsonObject ?? throw new ConfigException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{path}: invalid JSON at line {e.LineNumber + 1}: {e.Message}");
        }
    }

    /// <summary>The tensors and the config hash their file records (null: none, not saved by PeftHost).</summary>
    private static (Dictionary<string, Tensor> State, string? ConfigHash) ReadStateAndHash(string directory)
    {
        string path = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(path))
        {
            string legacy = Path.Combine(directory, "adapter_model.bin");
            throw new ConfigException(File.Exists(legacy)
                ? $"{legacy}: pickled PyTorch adapters are not supported; save with safe_serialization=True"
                : $"{path}: not found");
        }
        using var file = SafeTensorsFile.Open(path);
        var state = file.Entries.Keys.ToDictionary(k => k, k => file.Read(k));
        foreach (var (key, tensor) in state)
        {
            if (Models.ModelLoader.NonFiniteReport(tensor) is not { } problem) continue;
            foreach (var t in state.Values) t.Dispose();
            throw new Models.ModelFormatException(path, $"tensor '{key}' {problem}; the adapter is damaged");
        }
        return (state, file.Metadata.TryGetValue(ConfigHashKey, out var hash) ? hash : null);
    }

    private static string Hash(byte[] bytes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

    /// <summary>A copy of <paramref name="config"/> with keys sorted at every level, as PEFT writes it.</summary>
    public static JsonObject Sorted(JsonObject config)
    {
        var result = new JsonObject();
        foreach (var (key, value) in config.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            result[key] = value is JsonObject o ? Sorted(o) : value?.DeepClone();
        return result;
    }
}
