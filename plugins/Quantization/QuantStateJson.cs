using System.Text;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// The non-tensor part of bitsandbytes' <c>QuantState.as_dict</c>: quant_type, blocksize, dtype,
/// shape and, when nested, nested_blocksize, nested_dtype, nested_offset — in that order —
/// stored as the UTF-8 bytes of Python's <c>json.dumps</c> (<c>pack_dict_to_tensor</c>).
/// </summary>
public static class QuantStateJson
{
    /// <summary>The quant state dict, keys in bitsandbytes' order.</summary>
    public static JsonObject Create(string quantType, int blockSize, ScalarType dtype, IReadOnlyList<long> shape, float? nestedOffset, int nestedBlockSize = BlockSizes.Nested)
    {
        var o = new JsonObject
        {
            ["quant_type"] = quantType,
            ["blocksize"] = blockSize,
            ["dtype"] = DtypeName(dtype),
            ["shape"] = new JsonArray(shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
        };
        if (nestedOffset is float offset)
        {
            o["nested_blocksize"] = nestedBlockSize;
            o["nested_dtype"] = "float32";
            o["nested_offset"] = (double)offset;
        }
        return o;
    }

    /// <summary>The blob: <c>json.dumps(state)</c> as a uint8 tensor [bytes].</summary>
    public static Tensor Pack(JsonObject state)
    {
        var bytes = Encoding.UTF8.GetBytes(PythonJson.Dumps(state));
        return tensor(bytes, ScalarType.Byte);
    }

    /// <summary>The dict stored in a blob tensor.</summary>
    public static JsonObject Unpack(Tensor blob)
    {
        var bytes = blob.to(ScalarType.Byte, CPU).data<byte>().ToArray();
        return JsonNode.Parse(bytes) as JsonObject ?? throw new FormatException("quant state blob is not a JSON object");
    }

    /// <summary>torch's dtype name without the <c>torch.</c> prefix: float32, bfloat16, float16.</summary>
    public static string DtypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float64 => "float64",
        _ => throw new ArgumentException($"cannot quantize a {dtype} tensor"),
    };

    /// <summary>The dtype named <paramref name="name"/> (float32, bfloat16, float16, float64).</summary>
    public static ScalarType ParseDtype(string name) => name switch
    {
        "float32" or "float" => ScalarType.Float32,
        "bfloat16" => ScalarType.BFloat16,
        "float16" or "half" => ScalarType.Float16,
        "float64" or "double" => ScalarType.Float64,
        _ => throw new FormatException($"unknown dtype '{name}' in quant state"),
    };

    /// <summary>The quant state's integer <paramref name="key"/>.</summary>
    public static int Int(JsonObject state, string key) =>
        state[key]?.GetValue<int>() ?? throw new FormatException($"quant state has no '{key}'");

    /// <summary>The quant state's float <paramref name="key"/> (nested_offset).</summary>
    public static double Double(JsonObject state, string key) =>
        state[key] is JsonValue v ? (v.TryGetValue<double>(out var d) ? d : Convert.ToDouble(v.ToString(), System.Globalization.CultureInfo.InvariantCulture))
        : throw new FormatException($"quant state has no '{key}'");
}
