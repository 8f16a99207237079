using System.Text.Json.Nodes;
using PeftHost.Core.Runtime;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>
/// transformers' <c>BitsAndBytesConfig</c> as stored under <c>quantization_config</c> in
/// <c>config.json</c>: a 4-bit model (nf4, fp4: quant type, double quantization, compute dtype,
/// storage) or an 8-bit LLM.int8 model (int8). Written with all of transformers' keys
/// (<c>to_dict</c>) so transformers + bitsandbytes load it.
/// </summary>
/// <param name="QuantType">nf4, fp4 or int8.</param>
/// <param name="DoubleQuant"><c>bnb_4bit_use_double_quant</c> (always false for int8).</param>
/// <param name="ComputeDtype"><c>bnb_4bit_compute_dtype</c>.</param>
/// <param name="SkipModules"><c>llm_int8_skip_modules</c> (null: transformers' default, the output layer).</param>
public sealed record BnbQuantizationConfig(string QuantType, bool DoubleQuant, ScalarType ComputeDtype, IReadOnlyList<string>? SkipModules = null)
{
    /// <summary>The config key in <c>config.json</c>.</summary>
    public const string Key = "quantization_config";

    /// <summary>The 8-bit (LLM.int8) quant type.</summary>
    public const string Int8 = "int8";

    /// <summary>True for the quant types bitsandbytes stores in a model folder: nf4, fp4 (4-bit) and int8 (LLM.int8).</summary>
    public static bool IsBitsandbytesType(string quantType) => quantType is "nf4" or "fp4" or Int8;

    /// <summary>Whether <paramref name="quantType"/> double-quantizes (4-bit only; LLM.int8 has one float32 scale per row).</summary>
    public static bool HasDoubleQuant(string quantType) => quantType != Int8;

    /// <summary>The config for a model quantized with <paramref name="quantType"/> and <paramref name="options"/>.</summary>
    public static BnbQuantizationConfig From(string quantType, QuantizationOptions options) =>
        new(quantType, options.DoubleQuant, options.ComputeDtype);

    /// <summary>The <c>quantization_config</c> object (keys sorted, as transformers writes config.json).</summary>
    public JsonObject ToJson()
    {
        if (!IsBitsandbytesType(QuantType))
            throw new ConfigException($"'{QuantType}' layers have no bitsandbytes model format (nf4, fp4 and int8 do)", "quantization");
        bool eightBit = QuantType == Int8;
        var o = new JsonObject
        {
            ["_load_in_4bit"] = !eightBit,
            ["_load_in_8bit"] = eightBit,
            ["bnb_4bit_compute_dtype"] = DeviceSelector.DtypeName(ComputeDtype),
            ["bnb_4bit_quant_storage"] = "uint8",
            // transformers' defaults for an 8-bit config: quant type fp4, no double quantization.
            ["bnb_4bit_quant_type"] = eightBit ? "fp4" : QuantType,
            ["bnb_4bit_use_double_quant"] = !eightBit && DoubleQuant,
            ["llm_int8_enable_fp32_cpu_offload"] = false,
            ["llm_int8_has_fp16_weight"] = false,
            ["llm_int8_skip_modules"] = SkipModules is null ? null : new JsonArray(SkipModules.Select(s => (JsonNode)s).ToArray()),
            // transformers checks isinstance(llm_int8_threshold, float): it must be written as 6.0, not 6.
            ["llm_int8_threshold"] = JsonNode.Parse("6.0"),
            ["load_in_4bit"] = !eightBit,
            ["load_in_8bit"] = eightBit,
            ["quant_method"] = "bitsandbytes",
        };
        return o;
    }

    /// <summary>Reads a <c>quantization_config</c>; refuses anything but a bitsandbytes 4-bit or 8-bit config, naming the key.</summary>
    public static BnbQuantizationConfig FromJson(JsonObject json)
    {
        string method = json["quant_method"]?.GetValue<string>() ?? "bitsandbytes";
        if (method != "bitsandbytes")
            throw new ConfigException($"quantization_config.quant_method '{method}' is not supported (only bitsandbytes)", "quant_method");
        bool load4 = (json["load_in_4bit"] ?? json["_load_in_4bit"])?.GetValue<bool>() ?? false;
        bool load8 = (json["load_in_8bit"] ?? json["_load_in_8bit"])?.GetValue<bool>() ?? false;
        var compute = json["bnb_4bit_compute_dtype"]?.GetValue<string>() is string c ? DeviceSelector.ParseDtype(c) : ScalarType.Float32;
        var skip = json["llm_int8_skip_modules"] is JsonArray a ? a.Select(n => n!.GetValue<string>()).ToArray() : null;
        if (load4 && load8) throw new ConfigException("quantization_config sets both load_in_4bit and load_in_8bit", "load_in_8bit");
        if (load8)
        {
            if (json["llm_int8_has_fp16_weight"]?.GetValue<bool>() == true)
                throw new ConfigException("llm_int8_has_fp16_weight: true keeps full-precision weights, which is not an 8-bit checkpoint", "llm_int8_has_fp16_weight");
            return new BnbQuantizationConfig(Int8, false, compute, skip);
        }
        if (!load4) throw new ConfigException("quantization_config has neither load_in_4bit nor load_in_8bit set", "load_in_4bit");
        string type = json["bnb_4bit_quant_type"]?.GetValue<string>() ?? "fp4";
        if (type is not ("nf4" or "fp4")) throw new ConfigException($"bnb_4bit_quant_type '{type}' is not nf4 or fp4", "bnb_4bit_quant_type");
        string storage = json["bnb_4bit_quant_storage"]?.GetValue<string>() ?? "uint8";
        if (storage != "uint8") throw new ConfigException($"bnb_4bit_quant_storage '{storage}' is not supported (only uint8)", "bnb_4bit_quant_storage");
        return new BnbQuantizationConfig(type, json["bnb_4bit_use_double_quant"]?.GetValue<bool>() ?? false, compute, skip);
    }
}
