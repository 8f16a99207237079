using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using static TorchSharp.torch;

namespace PeftHost.Core.Export.Gguf;

/// <summary>
/// Writes a PEFT LoRA adapter folder as a llama.cpp LoRA adapter GGUF (convert_lora_to_gguf.py's layout):
/// <c>general.type = "adapter"</c>, <c>adapter.type = "lora"</c>, <c>adapter.lora.alpha</c>, and per adapted module
/// <c>blk.N.&lt;tensor&gt;.weight.lora_a</c> [r, in] and <c>.lora_b</c> [out, r]. llama.cpp scales every module by
/// alpha / r (r read from the tensor); PeftHost's own scaling per module (rsLoRA's alpha/√r, rank_pattern,
/// alpha_pattern) is folded into lora_b so that the product equals PEFT's exactly. lora_b of q/k gets the RoPE row
/// order of the base; lora_a does not. What llama.cpp cannot represent is refused by name.
/// </summary>
public static class GgufLoraExporter
{
    private const string Prefix = "base_model.model.";

    /// <summary>
    /// Exports the adapter in <paramref name="adapterDir"/> for <paramref name="baseModel"/> (whose shapes it must fit)
    /// to <paramref name="outPath"/> with its matrices in <paramref name="type"/> (f32, f16 or bf16).
    /// </summary>
    /// <returns>The tensors written.</returns>
    public static IReadOnlyList<GgufTensor> Export(string adapterDir, CausalLanguageModel baseModel, string outPath, GgmlType type)
    {
        var config = AdapterFiles.ReadConfig(adapterDir);
        var state = AdapterFiles.ReadState(adapterDir);
        try
        {
            return Export(config, state, adapterDir, Path.GetFileName(Path.GetFullPath(adapterDir).TrimEnd('/')), baseModel, outPath, type);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Exports an adapter given as its PEFT config and tensors (keys as PEFT saves them); <paramref name="origin"/> names it
    /// in errors. <paramref name="baseModel"/> may carry the adapter's layers (a module's base weight is then its
    /// <c>base_layer.weight</c>).
    /// </summary>
    public static IReadOnlyList<GgufTensor> Export(JsonObject config, IReadOnlyDictionary<string, Tensor> state, string origin, string name,
        CausalLanguageModel baseModel, string outPath, GgmlType type)
    {
        if (type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
            throw new ArgumentException($"a LoRA adapter GGUF holds f32, f16 or bf16 matrices, not {GgmlTypes.Name(type)}; quantize the base model, or export with --merge");
        RefuseWhatLlamaCppCannotHold(origin, config);
        float alpha = (float)Number(config, "lora_alpha", 8);
        bool rslora = config["use_rslora"] is JsonValue rs && rs.GetValueKind() == JsonValueKind.True;
        var alphaPatterns = (config["alpha_pattern"] as JsonObject ?? [])
            .Select(kv => (Pattern: ModulePattern.Create($"^(?:.*\\.)?(?:{kv.Key})$", kv.Key, "alpha_pattern"), Alpha: kv.Value!.GetValue<double>()))
            .ToList();

        var arch = GgufArchitecture.For(baseModel.Config);
        // An adapted layer keeps the base weight as base_layer.weight (adapter tensors themselves are not base weights).
        var baseShapes = baseModel.named_parameters()
            .Select(p => (Name: p.name.Replace(".base_layer.", ".", StringComparison.Ordinal), p.parameter.shape))
            .Where(p => !p.Name.Contains(".lora_", StringComparison.Ordinal))
            .DistinctBy(p => p.Name)
            .ToDictionary(p => p.Name, p => p.shape);
        var modules = new SortedDictionary<string, (Tensor A, Tensor B)>(StringComparer.Ordinal);
        foreach (var key in state.Keys)
        {
            string module = key.StartsWith(Prefix, StringComparison.Ordinal) && (key.EndsWith(".lora_A.weight", StringComparison.Ordinal) || key.EndsWith(".lora_B.weight", StringComparison.Ordinal))
                ? key[Prefix.Length..^".lora_A.weight".Length]
                : throw new InvalidOperationException($"{origin}: tensor {key} cannot be represented in a llama.cpp LoRA GGUF; export with --merge");
            var a = state[$"{Prefix}{module}.lora_A.weight"];
            var b = state.TryGetValue($"{Prefix}{module}.lora_B.weight", out var lb) ? lb
                : throw new InvalidOperationException($"{origin}: {module} has lora_A but no lora_B");
            modules[module] = (a, b);
        }

        var tensors = new List<GgufTensor>();
        foreach (var (module, (a, b)) in modules)
        {
            string baseName = module + ".weight";
            if (!baseShapes.TryGetValue(baseName, out var baseShape))
                throw new InvalidOperationException($"{origin}: adapts {module}, which the base model does not have; is it an adapter for another base?");
            long r = a.shape[0];
            if (a.shape.Length != 2 || b.shape.Length != 2 || b.shape[1] != r || baseShape.Length != 2 || a.shape[1] != baseShape[1] || b.shape[0] != baseShape[0])
                throw new InvalidOperationException($"{origin}: {module} has lora_A {ModelLoader.ShapeText(a.shape)} and lora_B {ModelLoader.ShapeText(b.shape)}, " +
                    $"which do not fit the base weight {ModelLoader.ShapeText(baseShape)}; is it an adapter for another base?");
            string gguf = arch.TensorName(baseName)
                ?? throw new InvalidOperationException($"{origin}: adapted module {module} has no GGUF counterpart; export with --merge");
            double moduleAlpha = alphaPatterns.FirstOrDefault(p => p.Pattern.IsMatch(module)) is { Pattern: not null } hit ? hit.Alpha : alpha;
            double scaling = rslora ? moduleAlpha / Math.Sqrt(r) : moduleAlpha / r;
            // llama.cpp multiplies by alpha / r with the file's alpha (or by 1 when that alpha is 0).
            double applied = alpha == 0 ? 1 : alpha / (double)r;
            double fold = scaling / applied;
            int? heads = arch.RopeHeads(baseName);
            var (loraA, loraB) = (a, b);
            tensors.Add(new GgufTensor(gguf + ".lora_a", a.shape, type, () => GgmlEncoder.Encode(loraA, type)));
            tensors.Add(new GgufTensor(gguf + ".lora_b", b.shape, type, () =>
            {
                using var scope = NewDisposeScope();
                var folded = fold == 1 ? loraB.to(ScalarType.Float32) : loraB.to(ScalarType.Float64).Times(fold);
                return GgmlEncoder.Encode(heads is int h ? GgufArchitecture.ToInterleavedRope(folded, h) : folded, type);
            }));
        }
        if (tensors.Count == 0) throw new InvalidOperationException($"{origin}: the adapter has no LoRA matrices");

        var metadata = GgufModelExporter.GeneralMetadata(arch.Name, "adapter", name);
        metadata.Add(new("adapter.type", GgufValue.Str("lora")));
        metadata.Add(new("adapter.lora.alpha", GgufValue.F32(alpha)));
        GgufFileOutput.Write(outPath, metadata, tensors);
        return tensors;
    }

    /// <summary>Refuses, by name, adapters and options a llama.cpp LoRA adapter cannot represent.</summary>
    private static void RefuseWhatLlamaCppCannotHold(string adapterDir, JsonObject config)
    {
        string peftType = config["peft_type"]?.GetValue<string>() ?? "LORA";
        string? problem = peftType switch
        {
            "LORA" => null,
            "PROMPT_TUNING" or "P_TUNING" or "PREFIX_TUNING" => $"a {peftType} adapter (virtual tokens) cannot be represented in GGUF, and cannot be merged",
            _ => $"a {peftType} adapter cannot be represented in a llama.cpp LoRA GGUF; export it with --merge",
        };
        if (problem is null && config["use_dora"] is JsonValue dora && dora.GetValueKind() == JsonValueKind.True)
            problem = "DoRA magnitude vectors (use_dora) cannot be represented in a llama.cpp LoRA GGUF; export it with --merge";
        if (problem is null && config["modules_to_save"] is JsonArray { Count: > 0 } saved)
            problem = $"modules_to_save ({string.Join(", ", saved.Select(n => n?.ToString()))}) cannot be represented in a llama.cpp LoRA GGUF; export it with --merge";
        if (problem is null && config["bias"] is JsonValue bias && bias.GetValueKind() == JsonValueKind.String && bias.GetValue<string>() != "none")
            problem = $"trained biases (bias = \"{bias.GetValue<string>()}\") cannot be represented in a llama.cpp LoRA GGUF; export it with --merge";
        if (problem is not null) throw new InvalidOperationException($"{adapterDir}: {problem}");
    }

    private static double Number(JsonObject config, string key, double fallback) =>
        config[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : fallback;
}
