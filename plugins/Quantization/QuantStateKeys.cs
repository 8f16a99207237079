namespace PeftHost.Quantization;

/// <summary>
/// The names of a quantized weight's state, as suffixes after <c>weight.</c> in a bitsandbytes
/// state dict (and in <see cref="PeftHost.Sdk.QuantizedTensor.State"/>).
/// </summary>
public static class QuantStateKeys
{
    /// <summary>Per-block absmax: float32, or uint8 codes when double-quantized.</summary>
    public const string Absmax = "absmax";

    /// <summary>The code table (16 values for 4-bit, 256 for int8).</summary>
    public const string QuantMap = "quant_map";

    /// <summary>Per-256-block absmax of the double-quantized absmax (float32).</summary>
    public const string NestedAbsmax = "nested_absmax";

    /// <summary>The signed dynamic map of the double quantization (256 float32).</summary>
    public const string NestedQuantMap = "nested_quant_map";

    /// <summary>Prefix of the JSON blob key; the quant type follows (<c>quant_state.bitsandbytes__nf4</c>).</summary>
    public const string BlobPrefix = "quant_state.bitsandbytes__";

    /// <summary>The JSON blob key for <paramref name="quantType"/>.</summary>
    public static string Blob(string quantType) => BlobPrefix + quantType;
}
