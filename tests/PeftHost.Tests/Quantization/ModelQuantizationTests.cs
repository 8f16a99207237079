using System.Text.Json.Nodes;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Quantization;
using PeftHost.Core.Tokenization;
using PeftHost.Quantization;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Tests.Quantization;

public class ModelQuantizationTests
{
    private static CausalLanguageModel TinyUntied() => TinyModels.Create(o => o["tie_word_embeddings"] = false);

    [Fact]
    public void QuantizeReplacesEveryLinearLayerExceptLmHead()
    {
        using var model = TinyUntied();
        var result = ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions());
        Assert.Equal(2 * 7, result.Paths.Count);
        Assert.Equal(["lm_head"], result.Skipped);
        var surface = new ModelSurface(model);
        Assert.IsType<Linear>(surface.GetModule("lm_head"));
        foreach (var path in result.Paths) Assert.IsType<QuantizedLinear>(surface.GetModule(path));
        Assert.Contains("model.layers.1.mlp.down_proj", result.Paths);
        Assert.DoesNotContain(model.named_parameters(), p => p.parameter.dtype == ScalarType.Float32 && p.name.EndsWith("proj.weight"));
    }

    [Fact]
    public void SkipModulesStayInFullPrecision()
    {
        using var model = TinyUntied();
        var result = ModelQuantizer.Quantize(model, new Fp4Quantizer(), new QuantizationOptions(), ["v_proj"]);
        Assert.Equal(2 * 6, result.Paths.Count);
        Assert.IsType<Linear>(new ModelSurface(model).GetModule("model.layers.0.self_attn.v_proj"));
    }

    [Fact]
    public void SaveThenLoadRoundTripsLogitsExactly()
    {
        using var dir = new TempDir();
        using var ids = TinyModels.Tokens(2, 9);
        foreach (var (type, doubleQuant) in new[] { ("nf4", true), ("nf4", false), ("fp4", true) })
        {
            using var model = TinyUntied();
            ModelQuantizer.Quantize(model, QuantizationFixtures.Registry.Resolve(type), new QuantizationOptions(64, doubleQuant));
            using var expected = model.Forward(ids);
            string path = dir[$"{type}-{doubleQuant}"];
            ModelLoader.Save(model, path);
            Assert.True(QuantizedModelFiles.IsQuantized(path));

            using var loaded = QuantizedModelFiles.Load(path, QuantizationFixtures.Registry);
            using var actual = loaded.Forward(ids);
            Assert.True(expected.eq(actual).all().item<bool>(), $"{type} dq={doubleQuant}: logits differ after a round trip");
            var layer = (QuantizedLinear)new ModelSurface(loaded).GetModule("model.layers.0.self_attn.q_proj");
            Assert.Equal(type, layer.QuantType);
        }
    }

    [Fact]
    public void Bf16ModelsRoundTripWithBf16FullPrecisionTensors()
    {
        using var dir = new TempDir();
        using var ids = TinyModels.Tokens(1, 6);
        using var model = ModelLoader.CreateRandom(TinyModels.Config(o => { o["tie_word_embeddings"] = false; o["attention_bias"] = true; }), ScalarType.BFloat16);
        ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions(64, true, ScalarType.BFloat16));
        using var expected = model.Forward(ids);
        ModelLoader.Save(model, dir.Path);
        using (var file = SafeTensorsFile.Open(dir["model.safetensors"]))
        {
            Assert.Equal("BF16", file.Entries["model.norm.weight"].DtypeName);
            Assert.Equal("BF16", file.Entries["model.layers.0.self_attn.q_proj.bias"].DtypeName);
            Assert.Contains("\"dtype\": \"bfloat16\"", System.Text.Encoding.UTF8.GetString(
                file.Read("model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4").data<byte>().ToArray()));
        }
        using var loaded = QuantizedModelFiles.Load(dir.Path, QuantizationFixtures.Registry);
        Assert.Equal(ScalarType.BFloat16, loaded.Model.Norm.Weight.dtype);
        using var actual = loaded.Forward(ids);
        Assert.True(expected.eq(actual).all().item<bool>());
    }

    [Fact]
    public void SavedCheckpointHasTheBitsandbytesLayout()
    {
        using var dir = new TempDir();
        using var model = TinyUntied();
        ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions(64, true));
        ModelLoader.Save(model, dir.Path);
        using var file = SafeTensorsFile.Open(dir["model.safetensors"]);
        const string q = "model.layers.0.self_attn.q_proj.weight";
        AssertEntry(file, q, "U8", new long[] { 32 * 32 / 2, 1 });
        AssertEntry(file, q + ".absmax", "U8", new long[] { 16 });
        AssertEntry(file, q + ".quant_map", "F32", new long[] { 16 });
        AssertEntry(file, q + ".nested_absmax", "F32", new long[] { 1 });
        AssertEntry(file, q + ".nested_quant_map", "F32", new long[] { 256 });
        Assert.Equal("U8", file.Entries[q + ".quant_state.bitsandbytes__nf4"].DtypeName);
        Assert.Equal("F32", file.Entries["lm_head.weight"].DtypeName);
        Assert.Equal("F32", file.Entries["model.norm.weight"].DtypeName);
        string blob = System.Text.Encoding.UTF8.GetString(file.Read(q + ".quant_state.bitsandbytes__nf4").data<byte>().ToArray());
        Assert.StartsWith("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [32, 32], \"nested_blocksize\": 256", blob);
    }

    private static void AssertEntry(SafeTensorsFile file, string key, string dtype, long[] shape)
    {
        Assert.Equal(dtype, file.Entries[key].DtypeName);
        Assert.Equal(shape, file.Entries[key].Shape);
    }

    [Fact]
    public void ConfigJsonCarriesTransformersQuantizationConfig()
    {
        using var dir = new TempDir();
        using var model = TinyUntied();
        ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions(64, true, ScalarType.BFloat16));
        ModelLoader.Save(model, dir.Path);
        string text = File.ReadAllText(dir["config.json"]);
        var qc = (JsonObject)JsonNode.Parse(text)!["quantization_config"]!;
        Assert.Equal(
            ["_load_in_4bit", "_load_in_8bit", "bnb_4bit_compute_dtype", "bnb_4bit_quant_storage", "bnb_4bit_quant_type",
             "bnb_4bit_use_double_quant", "llm_int8_enable_fp32_cpu_offload", "llm_int8_has_fp16_weight", "llm_int8_skip_modules",
             "llm_int8_threshold", "load_in_4bit", "load_in_8bit", "quant_method"],
            qc.Select(kv => kv.Key).ToArray());
        Assert.True(qc["load_in_4bit"]!.GetValue<bool>());
        Assert.False(qc["load_in_8bit"]!.GetValue<bool>());
        Assert.Equal("nf4", qc["bnb_4bit_quant_type"]!.GetValue<string>());
        Assert.True(qc["bnb_4bit_use_double_quant"]!.GetValue<bool>());
        Assert.Equal("bfloat16", qc["bnb_4bit_compute_dtype"]!.GetValue<string>());
        Assert.Equal("bitsandbytes", qc["quant_method"]!.GetValue<string>());
        Assert.Equal("uint8", qc["bnb_4bit_quant_storage"]!.GetValue<string>());
        Assert.Null(qc["llm_int8_skip_modules"]);
        Assert.Contains("\"llm_int8_threshold\": 6.0", text); // a Python float, as transformers checks
    }

    [Fact]
    public void ACheckpointWrittenTheWayBitsandbytesWritesItLoadsAndComputesWithItsWeights()
    {
        // The reverse direction of SavedCheckpointHasTheBitsandbytesLayout: the files are built here
        // from the published layout with the scalar reference quantizer (nf4, no double
        // quantization, packed uint8 [n/2, 1], absmax F32, quant_map F32, the JSON blob as U8, keys
        // in another order), not by ModelLoader.Save.
        using var dir = new TempDir();
        using var source = TinyUntied();
        using var expected = TinyUntied(); // its linear weights become the reference's dequantized values
        var expectedParameters = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, p) in source.named_parameters().Reverse())
        {
            if (!name.EndsWith("_proj.weight", StringComparison.Ordinal))
            {
                tensors.Add(new(name, p.detach().clone()));
                continue;
            }
            float[] w = p.detach().contiguous().data<float>().ToArray();
            var (packed, absmax) = BnbReference.Quantize4Bit(w, 64, BnbReference.Nf4Index);
            var dequantized = new float[w.Length];
            for (int i = 0; i < w.Length; i++)
                dequantized[i] = BnbReference.Nf4[(packed[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 15] * absmax[i / 64];
            using (no_grad()) expectedParameters[name].copy_(tensor(dequantized, p.shape));
            string blob = $"{{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [{p.shape[0]}, {p.shape[1]}]}}";
            tensors.Add(new(name + ".quant_state.bitsandbytes__nf4", tensor(System.Text.Encoding.UTF8.GetBytes(blob), ScalarType.Byte)));
            tensors.Add(new(name + ".quant_map", tensor(BnbReference.Nf4)));
            tensors.Add(new(name + ".absmax", tensor(absmax)));
            tensors.Add(new(name, tensor(packed, ScalarType.Byte).reshape(-1, 1)));
        }
        SafeTensorsWriter.Write(dir["model.safetensors"], tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var config = source.Config.ToJson("float32");
        config["quantization_config"] = new JsonObject
        {
            ["quant_method"] = "bitsandbytes", ["load_in_4bit"] = true, ["load_in_8bit"] = false,
            ["bnb_4bit_quant_type"] = "nf4", ["bnb_4bit_use_double_quant"] = false, ["bnb_4bit_compute_dtype"] = "float32",
            ["bnb_4bit_quant_storage"] = "uint8", ["llm_int8_skip_modules"] = null, ["llm_int8_threshold"] = 6.0,
        };
        File.WriteAllText(dir["config.json"], config.ToJsonString());

        using var loaded = QuantizedModelFiles.Load(dir.Path, QuantizationFixtures.Registry);
        Assert.False(QuantizedLayers.ConfigOf(loaded)!.DoubleQuant);
        Assert.IsType<QuantizedLinear>(new ModelSurface(loaded).GetModule("model.layers.1.mlp.down_proj"));
        using var ids = TinyModels.Tokens(2, 12);
        using var noGrad = no_grad();
        using var got = loaded.Forward(ids);
        using var want = expected.Forward(ids);
        TensorAssert.Close(want, got, 1e-5);
    }

    [Fact]
    public void LoadingPicksTheQuantizerFromTheConfigAndRefusesMismatches()
    {
        using var dir = new TempDir();
        using var model = TinyUntied();
        ModelQuantizer.Quantize(model, new Fp4Quantizer(), new QuantizationOptions(64, false));
        ModelLoader.Save(model, dir.Path);
        using (var loaded = QuantizedModelFiles.Load(dir.Path, QuantizationFixtures.Registry))
        {
            Assert.Equal("fp4", QuantizedLayers.ConfigOf(loaded)!.QuantType);
            Assert.False(QuantizedLayers.ConfigOf(loaded)!.DoubleQuant);
        }
        // Claim nf4 in config.json: the layers' quant states say fp4.
        var config = JsonNode.Parse(File.ReadAllText(dir["config.json"]))!;
        config["quantization_config"]!["bnb_4bit_quant_type"] = "nf4";
        File.WriteAllText(dir["config.json"], config.ToJsonString());
        var e = Assert.Throws<ModelFormatException>(() => QuantizedModelFiles.Load(dir.Path, QuantizationFixtures.Registry));
        Assert.Contains("quant_type 'fp4' differs", e.Message);
    }

    [Fact]
    public void MemoryAccountingGives4127BitsWithDoubleQuantAnd45Without()
    {
        Assert.Equal(4.126953125, QuantizationMemory.TheoreticalBitsPerParameter(4, 64, doubleQuant: true));
        Assert.Equal(4.5, QuantizationMemory.TheoreticalBitsPerParameter(4, 64, doubleQuant: false));
        using var w = randn(256, 1024);
        foreach (var (doubleQuant, bits) in new[] { (true, 4.127), (false, 4.5) })
        {
            var quantizer = new Nf4Quantizer();
            using var layer = quantizer.CreateLinear(quantizer.Quantize(w, new QuantizationOptions(64, doubleQuant)), null, ScalarType.Float32);
            var report = QuantizationMemory.Measure(layer);
            Assert.Equal(bits, Math.Round(report.BitsPerQuantizedParameter, 3));
            Assert.Equal(256 * 1024, report.QuantizedParameters);
            Assert.Equal(256 * 1024 / 2, report.Components.Single(c => c.Name == "quantized 4-bit codes").Bytes);
            Assert.Equal(doubleQuant ? 4096 : 4096 * 4, report.Components.Single(c => c.Name.StartsWith("quantized absmax")).Bytes);
            if (doubleQuant) Assert.Equal(16 * 4, report.Components.Single(c => c.Name == "quantized nested absmax (float32)").Bytes);
            Assert.Contains("bits per quantized parameter: " + bits.ToString("F3", System.Globalization.CultureInfo.InvariantCulture), report.Format());
        }
    }

    [Fact]
    public void MemoryReportOfAQuantizedModelCountsFullPrecisionPartsSeparately()
    {
        using var model = TinyUntied();
        var before = QuantizationMemory.Measure(model);
        Assert.Equal(0, before.QuantizedLayers);
        ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions());
        var report = QuantizationMemory.Measure(model);
        Assert.Equal(14, report.QuantizedLayers);
        long linear = 2 * (2 * 32 * 32 + 2 * 16 * 32 + 3 * 64 * 32); // q,o [32,32]; k,v [16,32]; gate, up, down 64×32
        Assert.Equal(linear, report.QuantizedParameters);
        Assert.Equal(before.QuantizedParameters + before.OtherParameters, report.QuantizedParameters + report.OtherParameters);
        Assert.True(report.TotalBytes < before.TotalBytes);
        Assert.Contains("float32 parameters", report.Format());
    }

    [Fact]
    public void PrepareForKbitTrainingFreezesTheBaseAndCastsHalfPrecisionToFloat32()
    {
        using var model = ModelLoader.CreateRandom(TinyModels.Config(o => o["tie_word_embeddings"] = false), ScalarType.BFloat16);
        ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions(64, true, ScalarType.BFloat16));
        foreach (var (_, p) in model.named_parameters().Where(p => is_floating_point(p.parameter))) p.requires_grad_(true);
        var prep = KbitTraining.Prepare(model);
        Assert.All(model.named_parameters(), p => Assert.False(p.parameter.requires_grad, p.name));
        Assert.All(model.named_parameters().Where(p => p.parameter.dtype != ScalarType.Byte), p => Assert.Equal(ScalarType.Float32, p.parameter.dtype));
        Assert.Contains("model.norm.weight", prep.CastToFloat32);
        Assert.Contains("model.layers.0.input_layernorm.weight", prep.CastToFloat32);
        // The norm's forward uses the float32 parameter, not a stale bf16 copy.
        Assert.Equal(ScalarType.Float32, model.Model.Norm.Weight.dtype);
        Assert.Same(model.named_parameters().First(p => p.name == "model.norm.weight").parameter, model.Model.Norm.Weight);
        Assert.True(prep.GradientCheckpointing);
        Assert.True(model.GradientCheckpointing);
        Assert.True(prep.InputRequiresGrad);
        using var ids = TinyModels.Tokens(1, 6);
        using var logits = model.Forward(ids);
        Assert.False(logits.isnan().any().item<bool>());
    }

    [Fact]
    public void Stories260kInNf4WithDoubleQuantKeepsItsPerplexity()
    {
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k);
        var ids = tokenizer.Encode(QuantizationFixtures.Story);
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var before = Perplexity.OfTokens(model, ids);
        var result = ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions(64, DoubleQuant: true));
        Assert.Equal(5 * 7, result.Paths.Count); // tied embeddings: no lm_head layer
        var after = Perplexity.OfTokens(model, ids);
        var memory = QuantizationMemory.Measure(model);
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "pefthost-stories260k-nf4.txt"),
            $"tokens {ids.Count}: perplexity fp32 {before.Perplexity:F4} -> nf4+dq {after.Perplexity:F4} ({(after.Perplexity / before.Perplexity - 1) * 100:F2}%)\n{memory.Format()}\n");
        Assert.True(double.IsFinite(after.Perplexity));
        Assert.True(after.Perplexity < before.Perplexity * 1.5, $"perplexity {before.Perplexity:F3} → {after.Perplexity:F3}");
        Assert.True(after.Perplexity > before.Perplexity * 0.8);
    }
}
