using System.Text.Json.Nodes;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.IO;
using PeftHost.Core.Quantization;
using PeftHost.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>Builds models from Hugging Face folders and random configs, and saves them back.</summary>
public static class ModelLoader
{
    /// <summary>The config file name.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>
    /// Loads the model in <paramref name="directory"/> into <paramref name="dtype"/> on
    /// <paramref name="device"/>. On the meta device only <c>config.json</c> is read. A folder whose
    /// config.json has a bitsandbytes <c>quantization_config</c> loads as a quantized model (its
    /// quantizer from <paramref name="quantizers"/>; <paramref name="dtype"/> then applies to the
    /// tensors that are not quantized), never through a full-precision copy.
    /// </summary>
    public static CausalLanguageModel Load(string directory, ScalarType dtype = ScalarType.Float32, Device? device = null, IQuantizerResolver? quantizers = null)
    {
        device ??= CPU;
        if (!Directory.Exists(directory)) throw new ModelFormatException(directory, "model folder not found");
        var config = ModelConfig.Load(Path.Combine(directory, ConfigFileName));
        if (device.type == DeviceType.META) return Build(config, device, dtype, WeightInit.Empty);
        if (config.Raw[BnbQuantizationConfig.Key] is not null)
        {
            if (quantizers is null)
                throw new ModelFormatException(directory, "the model is quantized (config.json has a quantization_config) and needs the quantizer plugins to load");
            return QuantizedModelFiles.Load(directory, quantizers, dtype, device);
        }
        using var reader = CheckpointReader.Open(directory);
        // Check the config against the checkpoint before allocating anything it asks for: a damaged
        // config.json (a layer count or a width off by orders of magnitude) must be an error, not a huge allocation.
        CheckSizes(config, reader, directory);
        using (var meta = Build(config, META, dtype, WeightInit.Empty)) ThrowOnProblems(meta, reader, directory);
        var model = Build(config, device, dtype, WeightInit.Empty);
        try
        {
            LoadWeights(model, reader, directory);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>Builds a model from a config with random weights (seeded) — for tests and benchmarks.</summary>
    public static CausalLanguageModel CreateRandom(ModelConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null, long seed = 0) =>
        Build(config, device ?? CPU, dtype, WeightInit.Random, seed);

    /// <summary>Builds a model whose weights are filled as <paramref name="init"/> says.</summary>
    public static CausalLanguageModel Build(ModelConfig config, Device device, ScalarType dtype, WeightInit init, long seed = 0)
    {
        var factory = new ParameterFactory(device, dtype, init, seed: seed);
        var model = new CausalLanguageModel(config, factory);
        model.eval();
        return model;
    }

    /// <summary>
    /// Copies every parameter from <paramref name="reader"/>. Missing, unexpected or mis-shaped
    /// tensors are errors naming the key and both shapes; all problems are reported at once.
    /// </summary>
    public static void LoadWeights(CausalLanguageModel model, CheckpointReader reader, string origin)
    {
        ThrowOnProblems(model, reader, origin);
        var nonFinite = new List<string>();
        var parameters = model.named_parameters().ToList();
        reader.ReadManyInto(parameters.Select(p => (p.name, (Tensor)p.parameter)));
        foreach (var (key, parameter) in parameters)
            if (NonFiniteReport(parameter) is { } what) nonFinite.Add($"tensor '{key}' {what}");
        if (nonFinite.Count > 0)
            throw new ModelFormatException(origin, "the checkpoint holds NaN or infinite weights: " + string.Join("; ", nonFinite.Take(5))
                + (nonFinite.Count > 5 ? $"; and {nonFinite.Count - 5} more tensors" : ""));
    }

    /// <summary>
    /// How many values of <paramref name="tensor"/> are NaN or infinite and where the first is
    /// (e.g. "holds 3 NaN or infinite values, the first at [2, 0]"), or null when all are finite.
    /// </summary>
    public static string? NonFiniteReport(Tensor tensor)
    {
        // Meta tensors (sizing a model without memory) have no values to check.
        if (!tensor.is_floating_point() || tensor.NumberOfElements == 0 || tensor.device.type == DeviceType.META) return null;
        using var scope = NewDisposeScope();
        // One reduction answers the usual case: a NaN or infinity makes the sum NaN or infinite, so a finite sum
        // proves every value finite. Summed in the tensor's own dtype (libtorch accumulates 16-bit types in float32):
        // a float64 sum converted every value on one thread, 550 of the 780 ms a ~100M model took to load. Finite
        // values that overflow the sum only send the tensor to the exact per-value mask below.
        using (no_grad())
            if (double.IsFinite(tensor.sum().to(ScalarType.Float64).item<double>())) return null;
        var bad = tensor.isfinite().logical_not();
        long count = bad.sum().item<long>();
        if (count == 0) return null;
        long flat = bad.flatten().nonzero()[0, 0].item<long>();
        var index = new long[tensor.dim()];
        for (int d = index.Length - 1; d >= 0; d--)
        {
            index[d] = flat % tensor.shape[d];
            flat /= tensor.shape[d];
        }
        return $"holds {count} NaN or infinite value{(count == 1 ? "" : "s")}, the first at {ShapeText(index)}";
    }

    /// <summary>
    /// Missing, unexpected or mis-shaped tensors (names and shapes only, so it works on a meta-device
    /// model) as one error naming them all.
    /// </summary>
    private static void ThrowOnProblems(CausalLanguageModel model, CheckpointReader reader, string origin)
    {
        var expected = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var problems = new List<string>();
        foreach (var (key, parameter) in expected)
        {
            if (!reader.Keys.Contains(key))
            {
                problems.Add($"missing tensor '{key}' (expected shape {ShapeText(parameter.shape)})");
                continue;
            }
            var entry = reader.Entry(key);
            if (!entry.Shape.SequenceEqual(parameter.shape))
            {
                problems.Add($"tensor '{key}' has shape {ShapeText(entry.Shape)} in the checkpoint but the model expects {ShapeText(parameter.shape)}");
                continue;
            }
            if (entry.Dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64))
                problems.Add($"tensor '{key}' has dtype {entry.DtypeName}; expected a floating dtype");
        }
        foreach (var key in reader.Keys.Where(k => !expected.ContainsKey(k) && !IsIgnorable(k, model.Config)))
            problems.Add($"unexpected tensor '{key}'");
        if (problems.Count > 0)
            throw new ModelFormatException(origin, string.Join("; ", problems.Take(20)) + (problems.Count > 20 ? $"; and {problems.Count - 20} more" : ""));
    }

    /// <summary>
    /// Refuses a config whose layer count or widths the checkpoint cannot possibly fill: every width
    /// is some tensor's dimension and every layer has tensors, so neither can exceed the checkpoint's.
    /// </summary>
    private static void CheckSizes(ModelConfig config, CheckpointReader reader, string origin)
    {
        long largest = reader.Keys.Select(k => reader.Entry(k).Shape.DefaultIfEmpty(0).Max()).DefaultIfEmpty(0).Max();
        foreach (var (key, value) in new (string, long)[]
                 {
                     ("vocab_size", config.VocabSize), ("hidden_size", config.HiddenSize), ("intermediate_size", config.IntermediateSize),
                     ("num_attention_heads × head_dim", (long)config.NumAttentionHeads * config.HeadDim),
                     ("num_key_value_heads × head_dim", (long)config.NumKeyValueHeads * config.HeadDim),
                 })
        {
            if (value > largest)
                throw new ModelFormatException(Path.Combine(origin, ConfigFileName),
                    $"{key} = {value} exceeds every tensor dimension in the checkpoint (the largest is {largest}): the config does not describe these weights");
        }
        int layers = reader.Keys.Select(LayerIndex).DefaultIfEmpty(-1).Max() + 1;
        if (config.NumHiddenLayers > layers)
            throw new ModelFormatException(Path.Combine(origin, ConfigFileName),
                $"num_hidden_layers = {config.NumHiddenLayers}, but the checkpoint holds {layers} layer{(layers == 1 ? "" : "s")}");
    }

    private static int LayerIndex(string key)
    {
        const string prefix = "model.layers.";
        if (!key.StartsWith(prefix, StringComparison.Ordinal)) return -1;
        int end = key.IndexOf('.', prefix.Length);
        return end > prefix.Length && int.TryParse(key.AsSpan(prefix.Length, end - prefix.Length), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out int i) ? i : -1;
    }

    /// <summary>
    /// Saves <paramref name="model"/> in Hugging Face layout: <c>config.json</c>,
    /// <c>generation_config.json</c> and safetensors weights (sharded above <paramref name="maxShardBytes"/>).
    /// A model with quantized layers is saved in the bitsandbytes layout with its
    /// <c>quantization_config</c> when no <paramref name="dtype"/> is given; with one, its quantized
    /// layers are dequantized and it is saved as a plain model in that dtype.
    /// </summary>
    public static void Save(CausalLanguageModel model, string directory, ScalarType? dtype = null, long maxShardBytes = CheckpointWriter.DefaultMaxShardBytes)
    {
        var saveDtype = dtype ?? model.Dtype;
        bool keepQuantized = dtype is null && QuantizedModelFiles.PluginLinearLayers(model).Count > 0;
        var config = model.Config.ToJson(DeviceSelector.DtypeName(saveDtype));
        // Before anything is written: a model that cannot be saved in its layout is refused here.
        if (keepQuantized) config[BnbQuantizationConfig.Key] = QuantizedModelFiles.ConfigOf(model).ToJson();
        else config.Remove(BnbQuantizationConfig.Key);
        // The folder is assembled beside the target and moved in, so a failed save (a full disk)
        // never leaves new weights next to the previous config.json.
        using var staging = StagingDirectory.Create(directory);
        IReadOnlyList<string> written;
        var state = new List<KeyValuePair<string, Tensor>>();
        try
        {
            state.AddRange(keepQuantized ? QuantizedModelFiles.StateDict(model, saveDtype) : QuantizedModelFiles.PlainStateDict(model, saveDtype));
            written = CheckpointWriter.Write(staging.Path, state, maxShardBytes);
        }
        finally
        {
            foreach (var kv in state) kv.Value.Dispose();
        }
        AtomicFile.WriteAllText(Path.Combine(staging.Path, ConfigFileName), config.ToJsonString(Json.Indented));
        WriteGenerationConfig(model.Config, staging.Path);
        staging.Commit();
        CheckpointWriter.RemoveStale(directory, written);
    }

    /// <summary>Writes <c>generation_config.json</c> with the model's special token ids.</summary>
    public static void WriteGenerationConfig(ModelConfig config, string directory)
    {
        var generation = new JsonObject { ["_from_model_config"] = true };
        if (config.BosTokenId is int bos) generation["bos_token_id"] = bos;
        if (config.EosTokenIds.Count == 1) generation["eos_token_id"] = config.EosTokenIds[0];
        else if (config.EosTokenIds.Count > 1) generation["eos_token_id"] = new JsonArray(config.EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (config.PadTokenId is int pad) generation["pad_token_id"] = pad;
        AtomicFile.WriteAllText(Path.Combine(directory, "generation_config.json"), generation.ToJsonString(Json.Indented));
    }

    /// <summary>Formats a shape as [a, b].</summary>
    public static string ShapeText(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    private static bool IsIgnorable(string key, ModelConfig config) =>
        key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || (config.TieWordEmbeddings && key == "lm_head.weight");
}
