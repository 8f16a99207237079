using System.Text.Json.Nodes;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.IO;
using PeftHost.Core.Models;
using PeftHost.Core.Runtime;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>
/// The state and config of quantized models in the layout transformers + bitsandbytes write and
/// read (<see cref="ModelLoader"/> saves and loads through it): <c>config.json</c> with
/// <c>quantization_config</c>, and safetensors holding, per 4-bit layer, <c>weight</c> (packed
/// uint8 [(n+1)/2, 1]), <c>weight.absmax</c>, <c>weight.quant_map</c>, <c>weight.nested_absmax</c>,
/// <c>weight.nested_quant_map</c>, <c>weight.quant_state.bitsandbytes__nf4</c> and <c>bias</c>;
/// per LLM.int8 layer <c>weight</c> (int8 [out, in]), <c>SCB</c>, <c>weight_format</c> and
/// <c>bias</c>; everything else in the model dtype.
/// </summary>
public static class QuantizedModelFiles
{
    /// <summary>
    /// How <paramref name="model"/> is quantized, for its <c>quantization_config</c>; refuses a
    /// model that still carries adapters (its saved keys would not be the base model's) or has
    /// layers bitsandbytes cannot store.
    /// </summary>
    public static BnbQuantizationConfig ConfigOf(CausalLanguageModel model)
    {
        var adapted = model.named_parameters().FirstOrDefault(p => p.name.Contains(".base_layer.", StringComparison.Ordinal)).name;
        if (adapted is not null) throw new InvalidOperationException($"the model still carries adapters ('{adapted}'): save the adapter, or merge and unload it, first");
        RequireBitsandbytesLayout(model);
        return QuantizedLayers.ConfigOf(model) ?? InferConfig(model);
    }

    /// <summary>
    /// The state dict in the bitsandbytes layout: each quantized layer's packed weight and quant
    /// state as stored, every other tensor in <paramref name="dtype"/>, all on the CPU. The caller
    /// disposes the tensors.
    /// </summary>
    public static List<KeyValuePair<string, Tensor>> StateDict(CausalLanguageModel model, ScalarType dtype)
    {
        var quantizedPrefixes = QuantizedLayers.Find(model).Select(q => q.Path + ".").ToArray();
        bool IsQuantizedState(string key) => quantizedPrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal) && !key.EndsWith(".bias", StringComparison.Ordinal));
        Tensor Convert(string name, Tensor t) => IsQuantizedState(name) || !t.is_floating_point() ? t.detach().cpu() : t.detach().to(dtype).cpu();
        return Collect(model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(model.named_buffers(include_nonpersistent: false))
            .Select(e => (e.Item1, (Func<Tensor>)(() => Convert(e.Item1, e.Item2)))));
    }

    /// <summary>
    /// The state dict of a plain model in <paramref name="dtype"/>: each quantized (or otherwise
    /// plugin-provided) linear layer's weight dequantized as its forward sees it, and its bias;
    /// every other parameter cast. The caller disposes the tensors.
    /// </summary>
    public static List<KeyValuePair<string, Tensor>> PlainStateDict(CausalLanguageModel model, ScalarType dtype)
    {
        var layers = PluginLinearLayers(model);
        var prefixes = layers.Select(l => l.Path + ".").ToArray();
        var entries = model.named_parameters()
            .Where(p => !prefixes.Any(prefix => p.name.StartsWith(prefix, StringComparison.Ordinal)))
            .Select(p => (p.name, (Func<Tensor>)(() => p.parameter.detach().to(dtype))))
            .ToList();
        foreach (var (path, layer) in layers)
        {
            entries.Add((path + ".weight", () => layer.ReadWeight(dtype).cpu()));
            if (layer.Bias is { } bias) entries.Add((path + ".bias", () => bias.detach().to(dtype)));
        }
        return Collect(entries);
    }

    /// <summary>
    /// The layers that are not the model's own <see cref="Linear"/> but a plugin's linear layer
    /// (<see cref="ILinearLayer"/>), quantized in the bitsandbytes layout or not.
    /// </summary>
    public static List<(string Path, ILinearLayer Layer)> PluginLinearLayers(nn.Module model) =>
        ModuleTree.Canonical(model).Where(m => m.Module is ILinearLayer && m.Module is not Linear).Select(m => (m.Path, (ILinearLayer)m.Module)).ToList();

    /// <summary>
    /// Refuses a model whose plugin linear layers are not all in the bitsandbytes layout: saving it
    /// quantized would write a file that does not hold those weights.
    /// </summary>
    private static void RequireBitsandbytesLayout(CausalLanguageModel model)
    {
        var foreign = PluginLinearLayers(model).Where(l => !QuantizedLayers.IsQuantized((nn.Module)l.Layer)).Select(l => l.Path).ToList();
        if (foreign.Count > 0)
            throw new InvalidOperationException($"layer '{foreign[0]}'{(foreign.Count > 1 ? $" (and {foreign.Count - 1} more)" : "")} is quantized in a format " +
                "bitsandbytes cannot store (only nf4, fp4 and int8 layers can be saved quantized); give a dtype to save plain dequantized weights");
    }

    private static List<KeyValuePair<string, Tensor>> Collect(IEnumerable<(string Name, Func<Tensor> Make)> source)
    {
        var state = new List<KeyValuePair<string, Tensor>>();
        try
        {
            using (no_grad())
                foreach (var (name, make) in source) state.Add(new(name, make()));
            return state;
        }
        catch
        {
            foreach (var kv in state) kv.Value.Dispose();
            throw;
        }
    }

    /// <summary>True when <paramref name="directory"/>'s config.json has a <c>quantization_config</c>.</summary>
    public static bool IsQuantized(string directory)
    {
        string path = Path.Combine(directory, ModelLoader.ConfigFileName);
        return File.Exists(path) && JsonNode.Parse(File.ReadAllText(path)) is JsonObject o && o[BnbQuantizationConfig.Key] is JsonObject;
    }

    /// <summary>
    /// Loads a 4-bit model: the quantizer is picked from <c>quantization_config</c>
    /// (<c>bnb_4bit_quant_type</c>) through <paramref name="quantizers"/>; every quantized layer is
    /// built from its stored state; missing, unexpected or mis-shaped tensors are reported at once.
    /// </summary>
    public static CausalLanguageModel Load(string directory, IQuantizerResolver quantizers, ScalarType? dtype = null, Device? device = null)
    {
        device ??= CPU;
        var config = ModelConfig.Load(Path.Combine(directory, ModelLoader.ConfigFileName));
        if (config.Raw[BnbQuantizationConfig.Key] is not JsonObject qcJson)
            throw new ModelFormatException(directory, "config.json has no quantization_config: load it with ModelLoader.Load");
        var qc = BnbQuantizationConfig.FromJson(qcJson);
        var quantizer = quantizers.Resolve(qc.QuantType);
        var modelDtype = dtype ?? (config.TorchDtype is string t ? DeviceSelector.ParseDtype(t) : ScalarType.Float32);
        var model = ModelLoader.Build(config, device, modelDtype, WeightInit.Empty);
        try
        {
            using var reader = CheckpointReader.Open(directory);
            var problems = new List<string>();
            var consumed = new HashSet<string>(StringComparer.Ordinal);
            var surface = new ModelSurface(model);
            var skip = new HashSet<string>(qc.SkipModules ?? [], StringComparer.Ordinal) { ModelQuantizer.OutputLayer };
            bool eightBit = qc.QuantType == BnbQuantizationConfig.Int8;
            var storedDtype = eightBit ? ScalarType.Int8 : ScalarType.Byte;
            foreach (var path in ModelQuantizer.LinearPaths(surface))
            {
                string weightKey = path + ".weight";
                if (!reader.Keys.Contains(weightKey) || reader.Entry(weightKey).Dtype != storedDtype) continue;
                if (skip.Contains(path[(path.LastIndexOf('.') + 1)..])) { problems.Add($"'{weightKey}' is quantized but the config skips '{path}'"); continue; }
                try
                {
                    var quantized = eightBit ? ReadInt8(reader, path, modelDtype, consumed) : ReadQuantized(reader, path, quantizer.Name, consumed);
                    var linear = (Linear)surface.GetModule(path);
                    Parameter? bias = null;
                    if (linear.bias is not null)
                    {
                        string biasKey = path + ".bias";
                        if (!reader.Keys.Contains(biasKey)) { problems.Add($"missing tensor '{biasKey}'"); continue; }
                        bias = new Parameter(reader.Read(biasKey, modelDtype).to(device), requires_grad: false);
                        consumed.Add(biasKey);
                    }
                    var expected = linear.weight!.shape;
                    if (!quantized.Shape.SequenceEqual(expected))
                    {
                        problems.Add($"quantized '{weightKey}' has shape {ModelLoader.ShapeText(quantized.Shape)} but the model expects {ModelLoader.ShapeText(expected)}");
                        quantized.Dispose();
                        continue;
                    }
                    surface.ReplaceModule(path, quantizer.CreateLinear(Move(quantized, device), bias, qc.ComputeDtype));
                    linear.weight!.Dispose();
                }
                catch (FormatException e) { problems.Add($"'{weightKey}': {e.Message}"); }
            }
            LoadRemaining(model, reader, consumed, problems);
            if (problems.Count > 0)
                throw new ModelFormatException(directory, string.Join("; ", problems.Take(20)) + (problems.Count > 20 ? $"; and {problems.Count - 20} more" : ""));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        QuantizedLayers.SetConfig(model, qc);
        return model;
    }

    private static QuantizedTensor ReadQuantized(CheckpointReader reader, string path, string expectedType, HashSet<string> consumed)
    {
        string prefix = path + ".weight.";
        var stateKeys = reader.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        string blobKey = stateKeys.FirstOrDefault(k => k.StartsWith(prefix + "quant_state.bitsandbytes__", StringComparison.Ordinal))
            ?? throw new FormatException($"no {prefix}quant_state.bitsandbytes__* tensor");
        var state = new Dictionary<string, Tensor>();
        foreach (var key in stateKeys) { state[key[prefix.Length..]] = reader.Read(key); consumed.Add(key); }
        var json = JsonNode.Parse(state[blobKey[prefix.Length..]].data<byte>().ToArray()) as JsonObject
            ?? throw new FormatException("quant state blob is not a JSON object");
        string type = json["quant_type"]?.GetValue<string>() ?? throw new FormatException("quant state has no quant_type");
        if (type != expectedType) throw new FormatException($"quant_type '{type}' differs from quantization_config's '{expectedType}'");
        var shape = (json["shape"] as JsonArray ?? throw new FormatException("quant state has no shape")).Select(n => n!.GetValue<long>()).ToArray();
        var originalDtype = DeviceSelector.ParseDtype(json["dtype"]?.GetValue<string>() ?? throw new FormatException("quant state has no dtype"));
        foreach (var required in new[] { "absmax", "quant_map" })
            if (!state.ContainsKey(required)) throw new FormatException($"missing tensor '{prefix}{required}'");
        if (json.ContainsKey("nested_offset") && !(state.ContainsKey("nested_absmax") && state.ContainsKey("nested_quant_map")))
            throw new FormatException($"nested quant state without '{prefix}nested_absmax' and '{prefix}nested_quant_map'");
        var data = reader.Read(path + ".weight");
        consumed.Add(path + ".weight");
        long n = shape.Aggregate(1L, (a, b) => a * b);
        if (data.NumberOfElements != (n + 1) / 2) throw new FormatException($"packed weight has {data.NumberOfElements} bytes, shape {ModelLoader.ShapeText(shape)} needs {(n + 1) / 2}");
        return new QuantizedTensor(type, shape, originalDtype, data, state, json);
    }

    /// <summary>
    /// An LLM.int8 weight as <c>Linear8bitLt</c> saves it: <c>weight</c> (int8 [out, in]), <c>SCB</c>
    /// (float32 [out]) and <c>weight_format</c> (0, row-major; the tiled GPU layouts older versions wrote are refused).
    /// </summary>
    private static QuantizedTensor ReadInt8(CheckpointReader reader, string path, ScalarType dtype, HashSet<string> consumed)
    {
        string scalesKey = $"{path}.{QuantizedLayers.RowScales}", formatKey = $"{path}.weight_format";
        if (!reader.Keys.Contains(scalesKey)) throw new FormatException($"missing tensor '{scalesKey}'");
        if (reader.Keys.Contains(formatKey))
        {
            using var format = reader.Read(formatKey);
            if (format.NumberOfElements != 1 || format.to(ScalarType.Int64).item<long>() != 0)
                throw new FormatException($"'{formatKey}' is not 0 (row-major): tiled GPU layouts are not supported");
            consumed.Add(formatKey);
        }
        var data = reader.Read(path + ".weight");
        var scales = reader.Read(scalesKey).to(ScalarType.Float32);
        consumed.Add(path + ".weight");
        consumed.Add(scalesKey);
        if (data.dim() != 2 || scales.dim() != 1 || scales.shape[0] != data.shape[0])
            throw new FormatException($"'{scalesKey}' has shape {ModelLoader.ShapeText(scales.shape)}, the weight {ModelLoader.ShapeText(data.shape)} needs one scale per row");
        var state = new Dictionary<string, Tensor> { [QuantizedLayers.RowScales] = scales, ["weight_format"] = tensor((byte)0, ScalarType.Byte) };
        var json = new JsonObject
        {
            ["quant_type"] = BnbQuantizationConfig.Int8,
            ["dtype"] = DeviceSelector.DtypeName(dtype),
            ["shape"] = new JsonArray(data.shape.Select(d => (JsonNode)d).ToArray()),
        };
        return new QuantizedTensor(BnbQuantizationConfig.Int8, data.shape, dtype, data, state, json);
    }

    private static QuantizedTensor Move(QuantizedTensor q, Device device)
    {
        if (device.type == DeviceType.CPU) return q;
        var moved = new QuantizedTensor(q.QuantType, q.Shape, q.OriginalDtype, q.Data.to(device),
            q.State.ToDictionary(kv => kv.Key, kv => kv.Value.to(device)), q.QuantState);
        q.Dispose();
        return moved;
    }

    private static void LoadRemaining(CausalLanguageModel model, CheckpointReader reader, HashSet<string> consumed, List<string> problems)
    {
        var quantizedPrefixes = QuantizedLayers.Find(model).Select(q => q.Path + ".").ToArray();
        var expected = model.named_parameters()
            .Where(p => !quantizedPrefixes.Any(prefix => p.name.StartsWith(prefix, StringComparison.Ordinal)))
            .ToDictionary(p => p.name, p => p.parameter);
        foreach (var (key, parameter) in expected)
        {
            if (!reader.Keys.Contains(key)) { problems.Add($"missing tensor '{key}' (expected shape {ModelLoader.ShapeText(parameter.shape)})"); continue; }
            var entry = reader.Entry(key);
            if (!entry.Shape.SequenceEqual(parameter.shape))
            {
                problems.Add($"tensor '{key}' has shape {ModelLoader.ShapeText(entry.Shape)} in the checkpoint but the model expects {ModelLoader.ShapeText(parameter.shape)}");
                continue;
            }
            using var source = reader.Read(key);
            using (no_grad()) parameter.copy_(source);
            consumed.Add(key);
        }
        foreach (var key in reader.Keys.Where(k => !consumed.Contains(k)))
        {
            bool ignorable = key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || (model.Config.TieWordEmbeddings && key == "lm_head.weight");
            if (!ignorable) problems.Add($"unexpected tensor '{key}'");
        }
    }

    private static BnbQuantizationConfig InferConfig(CausalLanguageModel model)
    {
        var first = QuantizedLayers.Find(model).FirstOrDefault();
        if (first.Module is null) throw new InvalidOperationException("the model has no quantized layers");
        var state = QuantizedLayers.QuantState(first.Module);
        return new BnbQuantizationConfig(state["quant_type"]!.GetValue<string>(), state.ContainsKey("nested_offset"), ScalarType.Float32);
    }
}
