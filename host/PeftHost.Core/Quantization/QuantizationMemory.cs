using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>Bytes held by one kind of tensor.</summary>
/// <param name="Name">e.g. "4-bit codes", "absmax (uint8)", "float32 parameters".</param>
/// <param name="Bytes">Storage in bytes.</param>
/// <param name="PerElement">True for storage that scales with the quantized elements (codes, absmax, nested absmax); false for per-tensor constants and full-precision tensors.</param>
public sealed record MemoryComponent(string Name, long Bytes, bool PerElement);

/// <summary>A model's memory by component, and bits per quantized parameter.</summary>
/// <param name="Components">Every component with a non-zero size.</param>
/// <param name="QuantizedLayers">Quantized linear layers.</param>
/// <param name="QuantizedParameters">Elements of the quantized weights (their original count).</param>
/// <param name="OtherParameters">Elements of every other parameter and buffer.</param>
/// <param name="QuantTypes">The schemes in use (nf4, fp4, int8).</param>
public sealed record ModelMemoryReport(IReadOnlyList<MemoryComponent> Components, int QuantizedLayers, long QuantizedParameters, long OtherParameters, IReadOnlyList<string> QuantTypes)
{
    /// <summary>All bytes.</summary>
    public long TotalBytes => Components.Sum(c => c.Bytes);

    /// <summary>Bytes of the quantized layers' weights (codes, absmax, nested, tables, JSON).</summary>
    public long QuantizedBytes => Components.Where(c => c.Name.StartsWith(QuantizationMemory.QuantizedPrefix, StringComparison.Ordinal)).Sum(c => c.Bytes);

    /// <summary>
    /// Storage per quantized parameter from what scales with it (codes, absmax, nested absmax):
    /// 4 + 8/64 + 32/(64·256) ≈ 4.127 for nf4 with double quantization at block size 64, 4.5 without.
    /// </summary>
    public double BitsPerQuantizedParameter => QuantizedParameters == 0 ? 0 :
        8.0 * Components.Where(c => c.PerElement).Sum(c => c.Bytes) / QuantizedParameters;

    /// <summary>As <see cref="BitsPerQuantizedParameter"/>, also counting code tables and quant-state JSON.</summary>
    public double BitsPerQuantizedParameterWithConstants => QuantizedParameters == 0 ? 0 : 8.0 * QuantizedBytes / QuantizedParameters;

    /// <summary>Bits per parameter over the whole model.</summary>
    public double BitsPerParameter => QuantizedParameters + OtherParameters == 0 ? 0 : 8.0 * TotalBytes / (QuantizedParameters + OtherParameters);

    /// <summary>A table for <c>peft inspect</c>.</summary>
    public string Format()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        if (QuantizedLayers > 0)
            sb.AppendLine(string.Create(ci, $"quantized linear layers: {QuantizedLayers} ({string.Join(", ", QuantTypes)}), {QuantizedParameters:N0} parameters"));
        int width = Components.Max(c => c.Name.Length);
        foreach (var c in Components)
            sb.AppendLine(string.Create(ci, $"  {c.Name.PadRight(width)}  {ModelReport.FormatBytes(c.Bytes),12}  ({c.Bytes:N0} B)"));
        sb.AppendLine(string.Create(ci, $"  {"total".PadRight(width)}  {ModelReport.FormatBytes(TotalBytes),12}  ({TotalBytes:N0} B)"));
        if (QuantizedLayers > 0)
            sb.AppendLine(string.Create(ci, $"bits per quantized parameter: {BitsPerQuantizedParameter:F3} ({BitsPerQuantizedParameterWithConstants:F3} with code tables and quant state)"));
        sb.Append(string.Create(ci, $"bits per parameter (whole model): {BitsPerParameter:F3}"));
        return sb.ToString();
    }
}

/// <summary>
/// Memory accounting of (quantized) models: bytes per component and bits per parameter — what
/// <c>peft inspect</c> prints. Works on any module tree; quantized layers are recognised by the
/// bitsandbytes state-dict convention (<see cref="QuantizedLayers"/>).
/// </summary>
public static class QuantizationMemory
{
    /// <summary>Prefix of the component names that belong to quantized weights.</summary>
    public const string QuantizedPrefix = "quantized ";

    /// <summary>Measures <paramref name="model"/>.</summary>
    public static ModelMemoryReport Measure(nn.Module model)
    {
        var bytes = new Dictionary<string, (long Bytes, bool PerElement)>();
        void Add(string name, long b, bool perElement)
        {
            bytes.TryGetValue(name, out var v);
            bytes[name] = (v.Bytes + b, perElement);
        }
        var seen = new HashSet<IntPtr>();
        long quantizedElements = 0, otherElements = 0;
        var types = new SortedSet<string>(StringComparer.Ordinal);
        int layers = 0;
        foreach (var (_, module) in ModuleTree.Canonical(model))
        {
            bool quantized = QuantizedLayers.IsQuantized(module);
            JsonObject? state = quantized ? QuantizedLayers.QuantState(module) : null;
            if (state is not null)
            {
                layers++;
                string type = state["quant_type"]?.GetValue<string>() ?? "?";
                types.Add(type);
                quantizedElements += (state["shape"] as JsonArray)!.Select(n => n!.GetValue<long>()).Aggregate(1L, (a, b) => a * b);
            }
            foreach (var (name, p) in module.named_parameters(recurse: false))
            {
                if (!seen.Add(p.Handle)) continue;
                long b = p.NumberOfElements * p.ElementSize;
                if (quantized && name == "weight") Add(QuantizedPrefix + (p.dtype == ScalarType.Byte ? "4-bit codes" : "8-bit codes"), b, true);
                else { Add($"{DtypeName(p.dtype)} parameters", b, false); otherElements += p.NumberOfElements; }
            }
            foreach (var (name, t) in module.named_buffers(recurse: false))
            {
                if (!seen.Add(t.Handle)) continue;
                long b = t.NumberOfElements * t.ElementSize;
                if (quantized && name.StartsWith("weight.", StringComparison.Ordinal))
                {
                    string key = name["weight.".Length..];
                    var (component, perElement) = key switch
                    {
                        "absmax" => ($"absmax ({DtypeName(t.dtype)})", true),
                        "nested_absmax" => ("nested absmax (float32)", true),
                        "quant_map" or "nested_quant_map" => ("code tables", false),
                        _ => ("quant state JSON", false),
                    };
                    Add(QuantizedPrefix + component, b, perElement);
                }
                else if (quantized && name == QuantizedLayers.RowScales) Add(QuantizedPrefix + "row scales (float32)", b, true);
                else if (quantized && name == "weight_format") Add(QuantizedPrefix + "weight format", b, false);
                else { Add($"{DtypeName(t.dtype)} buffers", b, false); otherElements += t.NumberOfElements; }
            }
        }
        var order = new[] { "4-bit codes", "8-bit codes", "row scales (float32)", "absmax (uint8)", "absmax (float32)", "nested absmax (float32)", "code tables", "quant state JSON", "weight format" };
        var components = bytes
            .OrderBy(kv => kv.Key.StartsWith(QuantizedPrefix, StringComparison.Ordinal) ? Array.IndexOf(order, kv.Key[QuantizedPrefix.Length..]) : 100)
            .ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new MemoryComponent(kv.Key, kv.Value.Bytes, kv.Value.PerElement))
            .ToList();
        return new ModelMemoryReport(components, layers, quantizedElements, otherElements, types.ToList());
    }

    /// <summary>
    /// Bits per parameter of a blockwise scheme: <paramref name="bits"/> + 32/blockSize, or with
    /// double quantization + 8/blockSize + 32/(blockSize·nestedBlockSize).
    /// </summary>
    public static double TheoreticalBitsPerParameter(int bits, int blockSize, bool doubleQuant, int nestedBlockSize = 256) =>
        doubleQuant ? bits + 8.0 / blockSize + 32.0 / ((double)blockSize * nestedBlockSize) : bits + 32.0 / blockSize;

    private static string DtypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float64 => "float64",
        ScalarType.Byte => "uint8",
        ScalarType.Int8 => "int8",
        ScalarType.Int64 => "int64",
        ScalarType.Int32 => "int32",
        ScalarType.Bool => "bool",
        _ => t.ToString().ToLowerInvariant(),
    };
}
