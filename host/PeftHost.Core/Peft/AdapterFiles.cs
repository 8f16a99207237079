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
    /// Writes one adapter's config and tensors into <paramref name="directory"/>. Both files are
    /// written in a staging folder first and then renamed into place, so a failed save (a full disk)
    /// never pairs new weights with the previous config; other files in the folder are kept.
    /// A <paramref name="modelCard"/> is written beside them as README.md, as PEFT does.
    /// </summary>
    public static void Write(string directory, JsonObject config, IReadOnlyDictionary<string, Tensor> state, string? modelCard = null)
    {
        using var staging = StagingDirectory.Create(directory);
        SafeTensorsWriter.Write(Path.Combine(staging.Path, WeightsFileName), state, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(staging.Path, ConfigFileName), Sorted(config).ToJsonString(Json.Indented));
        if (modelCard is not null) AtomicFile.WriteAllText(Path.Combine(staging.Path, ModelCard.FileName), modelCard);
        staging.Commit();
    }

    /// <summary>Reads an adapter folder's config.</summary>
    public static JsonObject ReadConfig(string directory)
    {
        string path = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(path)) throw new ConfigException($"{path}: not found (is '{directory}' a PEFT adapter folder?)");
        try
        {
            return StrictJson.ParseNode(File.ReadAllBytes(path)) as JsonObject ?? throw new ConfigException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{path}: invalid JSON at line {e.LineNumber + 1}: {e.Message}");
        }
    }

    /// <summary>Reads an adapter folder's tensors onto the CPU.</summary>
    public static Dictionary<string, Tensor> ReadState(string directory)
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
        return state;
    }

    /// <summary>A copy of <paramref name="config"/> with keys sorted at every level, as PEFT writes it.</summary>
    public static JsonObject Sorted(JsonObject config)
    {
        var result = new JsonObject();
        foreach (var (key, value) in config.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            result[key] = value is JsonObject o ? Sorted(o) : value?.DeepClone();
        return result;
    }
}
