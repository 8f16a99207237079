using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftHost.Cli.Commands;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Quantization;
using PeftHost.Core.Tokenization;
using PeftHost.Quantization;
using PeftHost.Sdk;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Quantization;

/// <summary>
/// Quantized models saved and loaded the way users do it: <c>saveModel</c> / <c>loadModel</c> in a
/// recipe, <c>peft eval</c> / <c>generate</c> / <c>inspect</c> / <c>merge</c> on the saved folder.
/// The folder must hold the bitsandbytes layout and load back quantized with the same logits.
/// </summary>
public sealed class QuantizedModelFolderTests : IDisposable
{
    private const string Text = "The old lighthouse stood by the sea. Every night its light turned round and round.";
    private const string Layer = "model.layers.0.self_attn.q_proj";

    private readonly RecipeHarness _recipes = new();

    public void Dispose() => _recipes.Dispose();

    /// <summary>quantize → saveModel in a recipe; the saved folder's path.</summary>
    private string SaveQuantized(string type, bool doubleQuant, string folder)
    {
        var run = _recipes.RunOk($$"""
            import { loadModel, quantize, saveModel, evaluate, generate, loadDataset, log } from "peft";
            const text = loadDataset([{{JsonValue.Create(Text).ToJsonString()}}], { format: "text", maxLength: 40 });
            const model = quantize(loadModel("models/stories260k"), "{{type}}", { doubleQuant: {{(doubleQuant ? "true" : "false")}} });
            const before = evaluate(model, text).loss;
            const saved = saveModel(model, "{{folder}}");
            const reloaded = loadModel(saved);
            const after = evaluate(reloaded, text).loss;
            log(`losses ${before} ${after}`);
            if (after !== before) throw new Error(`the reloaded model scores ${after}, the saved one ${before}`);
            const prompt = "Once upon a time";
            if (generate(reloaded, prompt, { maxNewTokens: 12 }) !== generate(model, prompt, { maxNewTokens: 12 }))
                throw new Error("the reloaded model generates differently");
            """);
        Assert.Contains($"{type} quantized", run.Err); // loadModel says it loaded a quantized model
        return Path.Combine(_recipes.Output, folder);
    }

    /// <summary>stories260k quantized in-process, as the recipe's quantize does.</summary>
    private static CausalLanguageModel QuantizedInProcess(string type, bool doubleQuant)
    {
        var model = ModelLoader.Load(TestPaths.Stories260k);
        ModelQuantizer.Quantize(model, QuantizationFixtures.Registry.Resolve(type), new QuantizationOptions(64, doubleQuant));
        return model;
    }

    [Theory]
    [InlineData("nf4", true)]
    [InlineData("nf4", false)]
    [InlineData("fp4", true)]
    [InlineData("fp4", false)]
    [InlineData("int8", false)]
    public void SaveModel_writes_a_folder_that_loads_back_quantized_with_identical_logits(string type, bool doubleQuant)
    {
        string folder = SaveQuantized(type, doubleQuant, "q");

        using var expected = QuantizedInProcess(type, doubleQuant);
        using var loaded = ModelLoader.Load(folder, quantizers: QuantizationFixtures.Registry);
        // Quantized as stored: no full-precision copy of any projection is resident.
        Assert.Equal(35, QuantizedLayers.Find(loaded).Count());
        Assert.DoesNotContain(loaded.named_parameters(), p => p.name.EndsWith("_proj.weight", StringComparison.Ordinal) && p.parameter.is_floating_point());
        using var ids = TinyModels.Tokens(2, 16, vocab: 512);
        using var noGrad = no_grad();
        using var want = expected.Forward(ids);
        using var got = loaded.Forward(ids);
        Assert.True(want.eq(got).all().item<bool>(), $"{type} dq={doubleQuant}: logits differ after saveModel → load");
    }

    [Theory]
    [InlineData("nf4", true)]
    [InlineData("fp4", false)]
    public void The_saved_tensors_and_config_follow_the_bitsandbytes_layout(string type, bool doubleQuant)
    {
        string folder = SaveQuantized(type, doubleQuant, "q");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
        var qc = config["quantization_config"]!.AsObject();
        // transformers' BitsAndBytesConfig.to_dict() for load_in_4bit, every key.
        Assert.Equal(
            ["_load_in_4bit", "_load_in_8bit", "bnb_4bit_compute_dtype", "bnb_4bit_quant_storage", "bnb_4bit_quant_type",
             "bnb_4bit_use_double_quant", "llm_int8_enable_fp32_cpu_offload", "llm_int8_has_fp16_weight", "llm_int8_skip_modules",
             "llm_int8_threshold", "load_in_4bit", "load_in_8bit", "quant_method"],
            qc.Select(kv => kv.Key).Order(StringComparer.Ordinal));
        Assert.Equal("bitsandbytes", qc["quant_method"]!.GetValue<string>());
        Assert.True(qc["load_in_4bit"]!.GetValue<bool>());
        Assert.False(qc["load_in_8bit"]!.GetValue<bool>());
        Assert.Equal(type, qc["bnb_4bit_quant_type"]!.GetValue<string>());
        Assert.Equal(doubleQuant, qc["bnb_4bit_use_double_quant"]!.GetValue<bool>());
        Assert.Equal("float32", qc["bnb_4bit_compute_dtype"]!.GetValue<string>());

        // Fixed inputs: stories260k's q_proj of layer 0, quantized by the scalar reference of bitsandbytes' kernels.
        using var original = SafeTensorsFile.Open(Path.Combine(TestPaths.Stories260k, "model.safetensors"));
        using var source = original.Read(Layer + ".weight");
        float[] w = source.to(ScalarType.Float32).contiguous().data<float>().ToArray();
        var (packed, absmax) = BnbReference.Quantize4Bit(w, 64, type == "nf4" ? BnbReference.Nf4Index : BnbReference.Fp4Index);

        using var file = SafeTensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        string weight = Layer + ".weight";
        Assert.Equal("U8", file.Entries[weight].DtypeName);
        Assert.Equal(new long[] { w.Length / 2, 1 }, file.Entries[weight].Shape);
        using (var stored = file.Read(weight)) Assert.Equal(packed, stored.data<byte>().ToArray());
        var quantMap = type == "nf4" ? BnbReference.Nf4 : BnbReference.Fp4Map();
        using (var map = file.Read(weight + ".quant_map")) Assert.Equal(quantMap, map.data<float>().ToArray());
        string blob;
        using (var blobTensor = file.Read(weight + ".quant_state.bitsandbytes__" + type)) blob = System.Text.Encoding.UTF8.GetString(blobTensor.data<byte>().ToArray());
        long rows = source.shape[0], cols = source.shape[1];
        if (doubleQuant)
        {
            Assert.Equal("U8", file.Entries[weight + ".absmax"].DtypeName);
            Assert.Equal(new long[] { absmax.Length }, file.Entries[weight + ".absmax"].Shape);
            Assert.Equal(new long[] { (absmax.Length + 255) / 256 }, file.Entries[weight + ".nested_absmax"].Shape);
            Assert.Equal(new long[] { 256 }, file.Entries[weight + ".nested_quant_map"].Shape);
            Assert.Matches($$"""^\{"quant_type": "{{type}}", "blocksize": 64, "dtype": "float32", "shape": \[{{rows}}, {{cols}}\], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": [0-9.e-]+\}$""", blob);
        }
        else
        {
            using (var stored = file.Read(weight + ".absmax")) Assert.Equal(absmax, stored.data<float>().ToArray());
            Assert.False(file.Entries.ContainsKey(weight + ".nested_absmax"));
            Assert.Equal($$"""{"quant_type": "{{type}}", "blocksize": 64, "dtype": "float32", "shape": [{{rows}}, {{cols}}]}""", blob);
        }
        Assert.Equal("F32", file.Entries["model.norm.weight"].DtypeName);
    }

    [Fact]
    public void An_int8_model_is_saved_as_llm_int8_with_scb_and_weight_format()
    {
        string folder = SaveQuantized("int8", false, "q8");
        var qc = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!["quantization_config"]!.AsObject();
        // transformers' BitsAndBytesConfig(load_in_8bit=True).to_dict(): 4-bit keys at their defaults.
        var expected = new JsonObject
        {
            ["_load_in_4bit"] = false, ["_load_in_8bit"] = true, ["bnb_4bit_compute_dtype"] = "float32", ["bnb_4bit_quant_storage"] = "uint8",
            ["bnb_4bit_quant_type"] = "fp4", ["bnb_4bit_use_double_quant"] = false, ["llm_int8_enable_fp32_cpu_offload"] = false,
            ["llm_int8_has_fp16_weight"] = false, ["llm_int8_skip_modules"] = null, ["llm_int8_threshold"] = JsonNode.Parse("6.0"),
            ["load_in_4bit"] = false, ["load_in_8bit"] = true, ["quant_method"] = "bitsandbytes",
        };
        Assert.True(JsonNode.DeepEquals(expected, qc), qc.ToJsonString());

        // Fixed inputs: stories260k's q_proj of layer 0; Linear8bitLt's keys and int8_vectorwise_quant's values.
        using var original = SafeTensorsFile.Open(Path.Combine(TestPaths.Stories260k, "model.safetensors"));
        using var source = original.Read(Layer + ".weight").to(ScalarType.Float32);
        float[] w = source.contiguous().data<float>().ToArray();
        long rows = source.shape[0], cols = source.shape[1];
        using var file = SafeTensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        Assert.Equal("I8", file.Entries[Layer + ".weight"].DtypeName);
        Assert.Equal(new[] { rows, cols }, file.Entries[Layer + ".weight"].Shape);
        Assert.Equal("F32", file.Entries[Layer + ".SCB"].DtypeName);
        Assert.Equal(new[] { rows }, file.Entries[Layer + ".SCB"].Shape);
        Assert.Equal("U8", file.Entries[Layer + ".weight_format"].DtypeName);
        Assert.Empty(file.Entries[Layer + ".weight_format"].Shape);
        using (var format = file.Read(Layer + ".weight_format")) Assert.Equal(0, format.to(ScalarType.Int64).item<long>());
        Assert.DoesNotContain(file.Entries.Keys, k => k.StartsWith(Layer + ".weight.", StringComparison.Ordinal));
        float[] scb;
        using (var t = file.Read(Layer + ".SCB")) scb = t.data<float>().ToArray();
        sbyte[] codes;
        using (var t = file.Read(Layer + ".weight")) codes = t.data<sbyte>().ToArray();
        for (long r = 0; r < rows; r++)
        {
            float scale = w.Skip((int)(r * cols)).Take((int)cols).Select(MathF.Abs).Max();
            Assert.Equal(scale, scb[r]);
            for (long c = 0; c < cols; c++)
                Assert.Equal((int)MathF.Round(w[r * cols + c] * (127f / scale), MidpointRounding.ToEven), codes[r * cols + c]);
        }
    }

    [Fact]
    public void Int8_with_double_quantization_is_refused_naming_the_option()
    {
        var run = _recipes.Run("recipe.js", """
            import { loadModel, quantize } from "peft";
            quantize(loadModel("models/stories260k"), "int8", { doubleQuant: true });
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 2, null,
            "int8 (LLM.int8) quantizes each row with one float32 scale and has no double quantization: set doubleQuant to false");
    }

    [Fact]
    public void SaveModel_with_a_dtype_writes_plain_dequantized_weights()
    {
        var run = _recipes.RunOk("""
            import { loadModel, quantize, saveModel, evaluate, loadDataset, log } from "peft";
            const text = loadDataset(["The old lighthouse stood by the sea."], { format: "text", maxLength: 40 });
            const model = quantize(loadModel("models/stories260k"), "nf4");
            const saved = saveModel(model, "plain", { dtype: "float32" });
            const before = evaluate(model, text).loss, after = evaluate(loadModel(saved), text).loss;
            if (after !== before) throw new Error(`plain export scores ${after}, the quantized model ${before}`);
            """);
        string folder = Path.Combine(_recipes.Output, "plain");
        Assert.False(QuantizedModelFiles.IsQuantized(folder));
        using var file = SafeTensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        Assert.Equal("F32", file.Entries[Layer + ".weight"].DtypeName);
        Assert.Equal(new long[] { 64, 64 }, file.Entries[Layer + ".weight"].Shape);
        Assert.DoesNotContain(file.Entries.Keys, k => k.Contains("absmax", StringComparison.Ordinal));
    }

    [Fact]
    public void Peft_eval_generate_and_inspect_load_a_saved_quantized_folder()
    {
        string folder = SaveQuantized("nf4", true, "q");
        using var dir = new TempDir();
        File.WriteAllText(dir["text.txt"], Text);

        var eval = CliTests.Run("eval", "--model", folder, "--text-file", dir["text.txt"]);
        Assert.True(eval.Code == 0, eval.Err);
        using var model = QuantizedInProcess("nf4", true);
        var tokens = TokenizerLoader.Load(TestPaths.Stories260k).Encode(Text, addBos: true);
        var expected = Perplexity.OfTokens(model, tokens);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"loss: {expected.Loss:G6} "), eval.Out);

        var generate = CliTests.Run("generate", "--model", folder, "--prompt", "Once upon a time", "-t", "0", "-n", "12");
        Assert.True(generate.Code == 0, generate.Err);
        Assert.StartsWith("Once upon a time", generate.Out);

        var inspect = CliTests.Run("inspect", "--model", folder);
        Assert.True(inspect.Code == 0, inspect.Err);
        Assert.Contains("stored quantized (nf4, bitsandbytes layout)", inspect.Out);
        // 4 + 8/64 + 32/(64·256) ≈ 4.127 bits at full nested blocks; stories260k's small layers leave them partly filled.
        Assert.Matches(@"bits per quantized parameter: 4\.1[23]\d", inspect.Out);
    }

    /// <summary>A LoRA adapter trained on a saved 4-bit base (the QLoRA flow), both saved by a recipe.</summary>
    private (string Base, string Adapter) TrainOnQuantizedBase()
    {
        _recipes.RunOk("""
            import { loadModel, quantize, saveModel, getPeftModel, train, saveAdapter, loadDataset } from "peft";
            const text = loadDataset(["The old lighthouse stood by the sea. Every night its light turned round and round."], { format: "text", maxLength: 40 });
            const model = quantize(loadModel("models/stories260k"), "nf4");
            saveModel(model, "base4");
            const peft = getPeftModel(model, { method: "lora", r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"] });
            train(peft, text, { maxSteps: 20, learningRate: 2e-2, batchSize: 1 });
            saveAdapter(peft, "adapter");
            """);
        return (Path.Combine(_recipes.Output, "base4"), Path.Combine(_recipes.Output, "adapter"));
    }

    private static double EvalLoss(string textFile, params string[] model)
    {
        var run = CliTests.Run(["eval", .. model, "--text-file", textFile]);
        Assert.True(run.Code == 0, run.Err);
        return double.Parse(Regex.Match(run.Out, @"loss: (\S+)").Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Peft_merge_into_a_4bit_base_reports_the_requantization_difference_or_exports_exactly_with_dtype()
    {
        var (base4, adapter) = TrainOnQuantizedBase();
        using var dir = new TempDir();
        File.WriteAllText(dir["text.txt"], Text);
        double unmerged = EvalLoss(dir["text.txt"], "--model", base4, "--adapter", adapter);

        var merge = CliTests.Run("merge", "--model", base4, "--adapter", adapter, "--out", dir["merged4"]);
        Assert.True(merge.Code == 0, merge.Err);
        Assert.Matches(@"warning: merged adapters into a quantized base: 15 layers were re-quantized.*output difference on a probe input: max \d+\.\d+ ?%", merge.Err);
        Assert.Contains("(nf4, bitsandbytes layout)", merge.Out);
        Assert.True(QuantizedModelFiles.IsQuantized(dir["merged4"]));
        double requantized = EvalLoss(dir["text.txt"], "--model", dir["merged4"]);
        Assert.NotEqual(unmerged, requantized); // rounded to the 4-bit grid, as the warning says

        var exact = CliTests.Run("merge", "--model", base4, "--adapter", adapter, "--out", dir["merged32"], "--dtype", "float32");
        Assert.True(exact.Code == 0, exact.Err);
        Assert.DoesNotContain("warning", exact.Err);
        Assert.False(QuantizedModelFiles.IsQuantized(dir["merged32"]));
        Assert.Equal(unmerged, EvalLoss(dir["text.txt"], "--model", dir["merged32"]), 4);
    }

    [Fact]
    public void MergeAndUnload_into_a_4bit_base_warns_with_the_measured_difference()
    {
        var run = _recipes.RunOk("""
            import { loadModel, quantize, getPeftModel, mergeAndUnload, saveModel } from "peft";
            const peft = getPeftModel(quantize(loadModel("models/stories260k"), "nf4"), { method: "lora", r: 4, targetModules: ["q_proj"] });
            const merged = mergeAndUnload(peft);
            saveModel(merged, "merged");
            """);
        Assert.Matches(@"warning: merged adapters into a quantized base: 5 layers were re-quantized, so the merged weights are rounded to the quantization grid; output difference on a probe input: max \d", run.Out + run.Err);
        Assert.True(QuantizedModelFiles.IsQuantized(Path.Combine(_recipes.Output, "merged")));
    }

    [Fact]
    public void A_quantized_folder_without_the_quantizer_plugins_is_refused_naming_it()
    {
        string folder = SaveQuantized("nf4", false, "q");
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
        Assert.Contains("config.json has a quantization_config", e.Message);
        Assert.Contains(folder, e.Message);
    }

    [Fact]
    public void The_qlora_recipe_saves_its_quantized_base_and_reloads_it_with_the_adapter()
    {
        var run = RecipeHarness.RunFile(Path.Combine(TestPaths.RepoRoot, "recipes", "qlora.js"), _recipes.Output, "--set", "steps=6");
        Assert.True(run.Code == 0, $"exit {run.Code}\n{run.Out}\n{run.Err}");
        Assert.Matches(@"reloaded \S+qlora-base \+ \S+qlora-adapter: loss \d", run.Out);
        string baseDir = Path.Combine(_recipes.Output, "qlora-base");
        Assert.True(QuantizedModelFiles.IsQuantized(baseDir));
        using var file = SafeTensorsFile.Open(Path.Combine(baseDir, "model.safetensors"));
        Assert.Equal("U8", file.Entries[Layer + ".weight.absmax"].DtypeName); // double-quantized, as the recipe asks
    }
}
