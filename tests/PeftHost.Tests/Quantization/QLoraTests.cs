using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Quantization;
using PeftHost.Core.Tokenization;
using PeftHost.Core.Training.Optimization;
using PeftHost.Plugins.Lora;
using PeftHost.Quantization;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Tests.Quantization;

public class QLoraTests
{
    private static PeftModel Peft(CausalLanguageModel model) => new(model, new StaticMethodCatalog(new LoraMethod()));

    private static JsonObject Lora(string json) => JsonNode.Parse(json)!.AsObject();

    private static void Randomize(PeftModel peft, long seed)
    {
        using var g = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (_, p) in peft.TrainableParameters()) p.copy_(randn(p.shape, generator: g) * 0.1);
    }

    [Fact]
    public void QLoraFineTuneOnStories260kLowersTheLoss()
    {
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k);
        var ids = tokenizer.Encode("Lily saw a big red ball. She ran to the ball and picked it up. She was happy.");
        var repeated = Enumerable.Repeat(ids, 3).SelectMany(x => x).Select(i => (long)i).ToArray();
        using var batch = tensor(repeated, [1, repeated.Length]);

        using var model = ModelLoader.Load(TestPaths.Stories260k);
        ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions(64, DoubleQuant: true));
        KbitTraining.Prepare(model);
        var peft = Peft(model);
        peft.AddAdapter("lora", Lora("""{"r": 8, "loraAlpha": 16, "targetModules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}"""));
        var trainable = peft.TrainableParameters();
        Assert.NotEmpty(trainable);
        Assert.All(model.named_parameters().Where(p => p.parameter.dtype == ScalarType.Byte), p => Assert.False(p.parameter.requires_grad));
        var (t, all) = peft.CountParameters();
        Assert.True(t > 0 && t < all);

        using var optimizer = new AdamW8bit([new ParameterGroup("all", 0, trainable.Select(p => new OptimizedTensor(p.Name, p.Parameter)).ToArray())], minEightBitSize: 0);
        model.train();
        var losses = new List<double>();
        for (int step = 0; step < 30; step++)
        {
            using var scope = NewDisposeScope();
            var loss = LanguageModelLoss.Compute(model.Forward(batch), batch);
            losses.Add(loss.item<float>());
            loss.backward();
            optimizer.Step(3e-3, trainable.ToDictionary(p => p.Name, p => p.Parameter.grad!));
            foreach (var (_, p) in trainable) p.grad = null;
        }
        model.eval();
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "pefthost-qlora.txt"), $"QLoRA losses: {string.Join(", ", losses.Select(l => l.ToString("F3")))}\n");
        Assert.True(losses[^1] < losses[0] * 0.8, $"loss {losses[0]:F3} → {losses[^1]:F3}");
        Assert.All(model.named_parameters().Where(p => p.parameter.dtype == ScalarType.Byte), p => Assert.Null(p.parameter.grad));
    }

    [Fact]
    public void LoraWrapsTheQuantizedLayerAndStartsAsTheBase()
    {
        using var model = TinyModels.Create(o => o["tie_word_embeddings"] = false);
        ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions());
        using var ids = TinyModels.Tokens(2, 7);
        using var before = model.Forward(ids);
        var peft = Peft(model);
        peft.AddAdapter("lora", Lora("""{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj"]}"""));
        var wrapper = peft.Surface.GetModule("model.layers.0.self_attn.q_proj");
        Assert.IsType<QuantizedLinear>(peft.Surface.GetModule("model.layers.0.self_attn.q_proj.base_layer"));
        using var after = model.Forward(ids);
        Assert.True(before.eq(after).all().item<bool>(), "B starts at zero: the adapter does not change the output");
        Assert.Contains(QuantizedMerge.AdaptedQuantizedLayers(model), p => p == "model.layers.0.self_attn.q_proj");
        Assert.NotNull(wrapper);
    }

    [Fact]
    public void MergingIntoTheQuantizedBaseRequantizesAndWarnsWithTheMeasuredDifference()
    {
        using var model = TinyModels.Create(o => o["tie_word_embeddings"] = false);
        ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions());
        var peft = Peft(model);
        peft.AddAdapter("lora", Lora("""{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj"]}"""));
        Randomize(peft, 3);
        using var ids = TinyModels.Tokens(2, 7);
        using var adapted = model.Forward(ids);

        var warnings = new List<string>();
        var (merged, report) = QuantizedMerge.MergeAndUnload(peft, warnings.Add);
        Assert.Equal(4, report.Layers.Count);
        Assert.Single(warnings);
        Assert.Contains("re-quantized", warnings[0]);
        Assert.Contains("output difference on a probe input", warnings[0]);
        Assert.True(report.MaxRelativeDifference > 0 && report.MaxRelativeDifference < 0.5, $"max {report.MaxRelativeDifference}");
        Assert.IsType<QuantizedLinear>(new ModelSurface(merged).GetModule("model.layers.0.self_attn.q_proj"));
        using var after = merged.Forward(ids);
        double relative = (after - adapted).norm().item<float>() / adapted.norm().item<float>();
        Assert.True(relative < 0.2, $"logits moved by {relative:P2} after re-quantization");
    }

    [Fact]
    public void AModelMergedByReQuantizingSavesAndLoadsBackWithItsLogits()
    {
        // The base as `peft merge` gets it: a saved 4-bit folder, loaded.
        using var dir = new TempDir();
        using (var quantized = TinyModels.Create(o => o["tie_word_embeddings"] = false))
        {
            ModelQuantizer.Quantize(quantized, new Nf4Quantizer(), new QuantizationOptions());
            ModelLoader.Save(quantized, dir["base"]);
        }
        using var model = ModelLoader.Load(dir["base"], quantizers: QuantizationFixtures.Registry);
        var peft = Peft(model);
        peft.AddAdapter("lora", Lora("""{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj", "down_proj"]}"""));
        Randomize(peft, 7);
        var (merged, _) = QuantizedMerge.MergeAndUnload(peft);
        var missing = QuantizedLayers.Find(merged)
            .Where(q => !merged.named_buffers(include_nonpersistent: false).Any(b => b.name == q.Path + ".weight.quant_state.bitsandbytes__nf4"))
            .Select(q => q.Path).ToList();
        Assert.Empty(missing);
        using var ids = TinyModels.Tokens(2, 7);
        using var expected = merged.Forward(ids);
        ModelLoader.Save(merged, dir["merged"]);
        using var loaded = ModelLoader.Load(dir["merged"], quantizers: QuantizationFixtures.Registry);
        using var actual = loaded.Forward(ids);
        Assert.True(expected.eq(actual).all().item<bool>());
    }

    [Fact]
    public void FullPrecisionExportKeepsTheAdaptedModelsOutput()
    {
        using var dir = new TempDir();
        using var model = TinyModels.Create(o => o["tie_word_embeddings"] = false);
        ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions());
        var peft = Peft(model);
        peft.AddAdapter("lora", Lora("""{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj", "down_proj"]}"""));
        Randomize(peft, 5);
        using var ids = TinyModels.Tokens(2, 7);
        using var adapted = model.Forward(ids);

        QuantizedMerge.ExportMergedFullPrecision(peft, dir.Path);
        Assert.False(QuantizedModelFiles.IsQuantized(dir.Path));
        using var plain = ModelLoader.Load(dir.Path);
        Assert.All(plain.named_parameters(), p => Assert.Equal(ScalarType.Float32, p.parameter.dtype));
        using var logits = plain.Forward(ids);
        Assert.True((logits - adapted).abs().max().item<float>() < 1e-4);
    }
}
