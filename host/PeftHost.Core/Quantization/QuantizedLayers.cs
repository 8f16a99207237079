using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>
/// Recognises quantized linear layers from any plugin by the bitsandbytes state-dict convention
/// they follow: an <see cref="ILinearLayer"/> whose <c>weight</c> parameter holds uint8 (4-bit,
/// packed) or int8 codes, with its state in buffers <c>weight.absmax</c>, <c>weight.quant_map</c>,
/// … and the JSON blob <c>weight.quant_state.bitsandbytes__{type}</c>.
/// </summary>
public static class QuantizedLayers
{
    /// <summary>The blob buffer's name prefix.</summary>
    public const string BlobPrefix = "weight.quant_state.bitsandbytes__";

    private static readonly ConditionalWeakTable<nn.Module, BnbQuantizationConfig> Configs = new();

    /// <summary>LLM.int8's per-row scales, a buffer of the module itself (bitsandbytes' <c>Linear8bitLt</c>).</summary>
    public const string RowScales = "SCB";

    /// <summary>True for a quantized linear layer: 4-bit with its quant-state blob, or LLM.int8 with its row scales.</summary>
    public static bool IsQuantized(nn.Module module) =>
        module is ILinearLayer && Weight(module) is { } w && (w.dtype is ScalarType.Byte or ScalarType.Int8)
        && module.named_buffers(recurse: false).Any(b => b.name.StartsWith(BlobPrefix, StringComparison.Ordinal) || (w.dtype == ScalarType.Int8 && b.name == RowScales));

    /// <summary>The layer's packed or coded weight parameter.</summary>
    public static TorchSharp.Modules.Parameter? Weight(nn.Module module) =>
        module.named_parameters(recurse: false).FirstOrDefault(p => p.name == "weight").parameter;

    /// <summary>
    /// The layer's quant state dict (quant_type, blocksize, dtype, shape, nested_…); for LLM.int8,
    /// which stores no such dict, quant_type and shape.
    /// </summary>
    public static JsonObject QuantState(nn.Module module)
    {
        var blob = module.named_buffers(recurse: false).FirstOrDefault(b => b.name.StartsWith(BlobPrefix, StringComparison.Ordinal)).buffer;
        if (blob is null)
            return new JsonObject { ["quant_type"] = "int8", ["shape"] = new JsonArray(Weight(module)!.shape.Select(d => (JsonNode)d).ToArray()) };
        var bytes = blob.to(ScalarType.Byte, CPU).data<byte>().ToArray();
        return JsonNode.Parse(bytes) as JsonObject ?? throw new FormatException("quant state blob is not a JSON object");
    }

    /// <summary>(path, module) of every quantized layer under <paramref name="root"/>.</summary>
    public static IEnumerable<(string Path, nn.Module Module)> Find(nn.Module root) =>
        ModuleTree.Canonical(root).Where(m => IsQuantized(m.Module));

    /// <summary>Remembers how <paramref name="model"/> was quantized (for saving its config).</summary>
    public static void SetConfig(nn.Module model, BnbQuantizationConfig config) => Configs.AddOrUpdate(model, config);

    /// <summary>How <paramref name="model"/> was quantized, when it was (by <see cref="ModelQuantizer"/> or a 4-bit load).</summary>
    public static BnbQuantizationConfig? ConfigOf(nn.Module model) => Configs.TryGetValue(model, out var c) ? c : null;
}
