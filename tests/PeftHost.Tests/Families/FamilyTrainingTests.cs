using System.Text.Json.Nodes;
using PeftHost.Core.Data;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Training;
using PeftHost.Plugins.IA3;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Families;

/// <summary>
/// Every family trains with LoRA (loss falls), survives save → load with the same logits, and decodes with the KV
/// cache exactly as a full forward pass does, past its sliding window.
/// </summary>
public sealed class FamilyTrainingTests
{
    public static TheoryData<string> Families => new(FamilyModels.Configs.Keys);

    private static readonly int[][] Sequences = Enumerable.Range(0, 4)
        .Select(s => Enumerable.Range(0, 24).Select(i => 3 + (s * 37 + i * 11) % 500).ToArray()).ToArray();

    [Theory]
    [MemberData(nameof(Families))]
    public void Lora_fine_tune_lowers_the_loss(string family)
    {
        using var model = ModelLoader.CreateRandom(FamilyModels.Config(family), ScalarType.Float32, CPU, seed: 3);
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
        var lora = new JsonObject { ["r"] = 4, ["loraAlpha"] = 8 };
        if (model.Config.FusedProjections) lora["targetModules"] = new JsonArray("qkv_proj", "gate_up_proj");
        peft.AddAdapter("lora", lora);
        double before = Perplexity.OfTokens(model, Sequences[0]).Loss;

        var trainer = new Trainer(model, peft.TrainableParameters(), new TrainingOptions
        {
            MaxSteps = 30, BatchSize = 2, LearningRate = 2e-2, LogEvery = 10, PlotLossCurve = false, Seed = 1,
        });
        trainer.Train(new TokenizedDataset(Sequences.Select(ids => new TokenizedExample(ids, ids)).ToList(), family));
        model.eval();
        double after = Perplexity.OfTokens(model, Sequences[0]).Loss;

        Assert.True(after < before - 0.1, $"{family}: loss {before:F4} → {after:F4}");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Saved_model_loads_with_the_same_logits(string family)
    {
        using var dir = new TempDir();
        using var model = FamilyModels.Random(family);
        ModelLoader.Save(model, dir.Path);
        using var loaded = ModelLoader.Load(dir.Path);
        using var ids = tensor(Sequences[1].Select(i => (long)i).ToArray()).unsqueeze(0);
        using var _ = no_grad();
        using var expected = model.Forward(ids);
        using var actual = loaded.Forward(ids);
        Assert.Equal(model.Config.Architecture, loaded.Config.Architecture);
        Assert.Equal(0f, (expected - actual).abs().max().item<float>());
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Kv_cache_decoding_matches_the_full_forward_past_the_sliding_window(string family)
    {
        using var model = FamilyModels.Random(family);
        var tokens = Sequences[2];
        using var _ = no_grad();
        using var ids = tensor(tokens.Select(i => (long)i).ToArray()).unsqueeze(0);
        using var full = model.Forward(ids);
        using var cache = KvCache.For(model, 1, tokens.Length);
        const int prompt = 3;
        using (model.Forward(ids[.., ..prompt], cache: cache)) { }
        for (int i = prompt; i < tokens.Length; i++)
        {
            using var step = model.Forward(ids[.., i..(i + 1)], cache: cache);
            double diff = (step[0, 0] - full[0, i]).abs().max().item<float>();
            Assert.True(diff < 1e-4, $"{family}: position {i} differs by {diff:E2} between cached decoding and the full forward");
        }
    }

    [Theory]
    [InlineData("gemma2", "q_proj,v_proj,down_proj")]
    [InlineData("qwen3", "q_proj,v_proj,down_proj")]
    [InlineData("mistral", "k_proj,v_proj,down_proj")]
    public void IA3_takes_peft_s_default_targets_for_the_family(string family, string expected)
    {
        using var model = ModelLoader.CreateRandom(FamilyModels.Config(family), ScalarType.Float32, CPU);
        var peft = new PeftModel(model, new StaticMethodCatalog(new IA3Method()));
        peft.AddAdapter("ia3", new JsonObject()); // method ia3, adapter "default"
        var config = peft["default"].Adapter.Config.ToJson();
        Assert.Equal(expected.Split(','), ((JsonArray)config["target_modules"]!).Select(n => n!.GetValue<string>()));
        Assert.Equal(["down_proj"], ((JsonArray)config["feedforward_modules"]!).Select(n => n!.GetValue<string>()));
    }

    [Fact]
    public void Lora_without_target_modules_on_phi3_is_refused_as_peft_refuses_it()
    {
        using var model = ModelLoader.CreateRandom(FamilyModels.Config("phi3"), ScalarType.Float32, CPU);
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
        var e = Assert.Throws<ConfigException>(() => peft.AddAdapter("lora", new JsonObject { ["r"] = 4 }));
        Assert.Equal("target_modules must be given for model_type 'phi3' (PEFT has no default for it)", e.Message);
    }
}
