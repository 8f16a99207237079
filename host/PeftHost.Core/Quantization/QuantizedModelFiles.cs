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
/// Saves and loads 4-bit models in the layout transformers + bitsandbytes write and read:
/// <c>config.json</c> with <c>quantization_config</c>, and safetensors holding, per quantized
/// layer, <c>weight</c> (packed uint8 [(n+1)/2, 1]), <c>weight.absmax</c>, <c>weight.quant_map</c>,
/// <c>weight.nested_absmax</c>, <c>weight.nested_quant_map</c>,
/// <c>weight.quant_state.bitsandbytes__nf4</c> and <c>bias</c>; everything else in the model dtype.
/// </summary>
public static class QuantizedModelFiles
{
    /// <summary>
    /// How <paramref name="model"/> is quantized, for its <c>quantization_config</c>; refuses a
    /// model that still carries adapters (its saved keys would not be the base model's).
    /// </summary>
    public static BnbQuantizationConfig ConfigOf(CausalLanguageModel model)
    {
        var adapted = model.named_parameters().FirstOrDefault(p => p.name.Contains(".base_layer.", StringComparison.Ordinal)).name;
        if (adapted is not null) throw new InvalidOperationException($"the model still carries adapters ('{adapted}'): save the adapter, or merge and unload it, first");
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
        return Collect(model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
                .Concat(model.named_buffers(include_nonpersistent: false).Select(b => (b.name, b.buffer))),
            (name, t) => IsQuantizedState(name) || !t.is_floating_point() ? t.detach().cpu() : t.detach().to(dtype).cpu());
    }

    /// <summary>
    /// The state dict of a plain model in <paramref name="dtype"/>: each quantized layer's weight
    /// dequantized (as its forward sees it), every other parameter cast. The caller disposes the tensors.
    /// </summary>
    public static List<KeyValuePair<string, Tensor>> PlainStateDict(CausalLanguageModel model, ScalarType dtype)
    {
        var quantizedWeights = QuantizedLayers.Find(model).ToDictionary(q => q.Path + ".weight", q => (ILinearLayer)q.Module);
        return Collect(model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)),
            (name, t) => quantizedWeights.TryGetValue(name, out var layer) ? layer.ReadWeight(dtype).cpu() : t.detach().to(dtype));
    }

    private static List<KeyValuePair<string, Tensor>> Collect(IEnumerable<(string Name, Tensor Tensor)> source, Func<string, Tensor, Tensor> convert)
    {
        var state = new List<KeyValuePair<string, Tensor>>();
        try
        {
            using (no_grad())
                foreach (var (name, t) in source) state.Add(new(name, convert(name, t)));
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
            foreach (var path in ModelQuantizer.LinearPaths(surface))
            {
                string weightKey = path + ".weight";
                if (!reader.Keys.Contains(weightKey) || reader.Entry(weightKey).Dtype != ScalarType.Byte) continue;
                if (skip.Contains(path[(path.LastIndexOf('.') + 1)..])) { problems.Add($"'{weightKey}' is quantized but the config skips '{path}'"); continue; }
                try
                {
                    var quantized = ReadQuantized(reader, path, quantizer.Name, consumed);
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
                    ChildRegistrations.RemoveStale(surface.GetModule(ModelQuantizer.ParentPath(path)), linear);
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
