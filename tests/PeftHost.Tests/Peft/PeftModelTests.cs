using System.Text.Json.Nodes;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Peft;

/// <summary>The PEFT model with the real LoRA plugin: counting, files, adapters, merging, mixed batches.</summary>
public sealed class PeftModelTests
{
    private static PeftModel Wrap(CausalLanguageModel model) => new(model, new StaticMethodCatalog(new LoraMethod()));

    private static JsonObject Lora(int r = 4, int alpha = 8, params string[] targets) => new()
    {
        ["r"] = r, ["loraAlpha"] = alpha,
        ["targetModules"] = new JsonArray((targets.Length == 0 ? ["q_proj", "v_proj"] : targets).Select(t => (JsonNode)t).ToArray()),
    };

    private static void RandomizeB(PeftModel peft, string adapter, long seed = 3)
    {
        using var g = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (key, p) in peft[adapter].Adapter.NamedParameters().Where(p => p.Key.Contains("lora_B")))
            p.copy_(randn(p.shape, generator: g) * 0.1);
    }

    [Fact]
    public void Llama2_7B_r8_on_q_and_v_prints_peft_s_exact_line()
    {
        var config = ModelConfig.FromJson(Models.ModelConfigTests.Llama2_7B());
        using var model = ModelLoader.Build(config, META, ScalarType.Float16, WeightInit.Empty);
        var peft = Wrap(model);
        peft.AddAdapter("lora", new JsonObject { ["r"] = 8, ["loraAlpha"] = 16, ["targetModules"] = new JsonArray("q_proj", "v_proj") });
        Assert.Equal("trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622", peft.TrainableParametersLine());
    }

    [Fact]
    public void Save_writes_peft_s_layout_and_load_restores_the_outputs()
    {
        using var dir = new TempDir();
        using var model = TinyModels.Create();
        var peft = Wrap(model);
        peft.AddAdapter("lora", Lora());
        RandomizeB(peft, "default");
        using var ids = TinyModels.Tokens(2, 10);
        using var before = model.Forward(ids).detach();
        peft.BaseModelPath = "/models/tiny";
        peft.SaveAdapter(dir.Path);

        var config = JsonNode.Parse(File.ReadAllText(dir["adapter_config.json"]))!.AsObject();
        Assert.Equal(config.Select(kv => kv.Key).Order(StringComparer.Ordinal), config.Select(kv => kv.Key));
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", config["task_type"]!.GetValue<string>());
        Assert.Equal("/models/tiny", config["base_model_name_or_path"]!.GetValue<string>()); // as the user named the base, as PEFT records it
        Assert.Equal(4, config["r"]!.GetValue<int>());
        Assert.Equal(8, config["lora_alpha"]!.GetValue<int>());
        using (var file = SafeTensorsFile.Open(dir["adapter_model.safetensors"]))
        {
            Assert.Equal(2 * 2 * 2, file.Entries.Count); // 2 layers × (q, v) × (A, B)
            Assert.Equal([4, 32], file.Entries["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"].Shape);
            Assert.Equal([16, 4], file.Entries["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"].Shape);
        }

        using var fresh = TinyModels.Create();
        var loaded = Wrap(fresh);
        loaded.LoadAdapter(dir.Path);
        using var after = fresh.Forward(ids);
        Assert.True(allclose(before, after, rtol: 0, atol: 1e-6));
        Assert.Empty(loaded.TrainableParameters()); // loaded for inference unless told otherwise
    }

    [Fact]
    public void An_adapter_written_as_python_peft_writes_it_loads_and_applies_alpha_over_r()
    {
        using var dir = new TempDir();
        // adapter_config.json exactly as PEFT 0.13 saves a LoRA adapter (keys sorted, nulls kept).
        File.WriteAllText(dir["adapter_config.json"], """
        {
          "alpha_pattern": {},
          "auto_mapping": null,
          "base_model_name_or_path": "tiny",
          "bias": "none",
          "fan_in_fan_out": false,
          "inference_mode": true,
          "init_lora_weights": true,
          "layer_replication": null,
          "layers_pattern": null,
          "layers_to_transform": null,
          "loftq_config": {},
          "lora_alpha": 16,
          "lora_dropout": 0.05,
          "megatron_config": null,
          "megatron_core": "megatron.core",
          "modules_to_save": null,
          "peft_type": "LORA",
          "r": 4,
          "rank_pattern": {},
          "revision": null,
          "target_modules": ["v_proj", "q_proj"],
          "task_type": "CAUSAL_LM",
          "use_dora": false,
          "use_rslora": false
        }
        """);
        using var g = new Generator(9);
        var state = new Dictionary<string, Tensor>();
        foreach (int layer in new[] { 0, 1 })
        {
            foreach (var (proj, outDim) in new[] { ("q_proj", 32L), ("v_proj", 16L) })
            {
                string prefix = $"base_model.model.model.layers.{layer}.self_attn.{proj}";
                state[$"{prefix}.lora_A.weight"] = randn([4, 32], generator: g).to(ScalarType.Float16);
                state[$"{prefix}.lora_B.weight"] = randn([outDim, 4], generator: g).to(ScalarType.Float16);
            }
        }
        SafeTensorsWriter.Write(dir["adapter_model.safetensors"], state, new Dictionary<string, string> { ["format"] = "pt" });

        using var adapted = TinyModels.Create();
        using var expected = TinyModels.Create();
        Wrap(adapted).LoadAdapter(dir.Path);
        // The same update applied by hand: W += (alpha / r) · B · A.
        var weights = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
        {
            foreach (int layer in new[] { 0, 1 })
                foreach (var proj in new[] { "q_proj", "v_proj" })
                {
                    string prefix = $"base_model.model.model.layers.{layer}.self_attn.{proj}";
                    var delta = matmul(state[$"{prefix}.lora_B.weight"].to(ScalarType.Float32), state[$"{prefix}.lora_A.weight"].to(ScalarType.Float32)) * (16.0 / 4);
                    weights[$"model.layers.{layer}.self_attn.{proj}.weight"].add_(delta);
                }
        }
        using var ids = TinyModels.Tokens(1, 12);
        using var _ = inference_mode();
        Assert.True(allclose(adapted.Forward(ids), expected.Forward(ids), rtol: 1e-4, atol: 1e-4));
    }

    [Fact]
    public void Zero_B_keeps_the_base_output_merge_agrees_and_unload_restores_the_weights()
    {
        using var model = TinyModels.Create();
        var original = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        using var ids = TinyModels.Tokens(2, 9);
        using var baseLogits = model.Forward(ids).detach();
        var peft = Wrap(model);
        peft.AddAdapter("lora", Lora());
        Assert.True(TensorAssert.Identical(baseLogits, model.Forward(ids).detach()));

        RandomizeB(peft, "default");
        using var unmerged = model.Forward(ids).detach();
        peft.MergeAdapter();
        using var merged = model.Forward(ids).detach();
        Assert.True(allclose(unmerged, merged, rtol: 0, atol: 1e-5));
        peft.UnmergeAdapter();
        peft.Unload();
        foreach (var (name, p) in model.named_parameters())
            Assert.True(allclose(p, original[name], rtol: 0, atol: 1e-6), name);
        Assert.Equal(original.Keys.Order(), model.named_parameters().Select(p => p.name).Order());
    }

    [Fact]
    public void Merge_and_unload_leaves_a_plain_model_that_saves_with_hugging_face_keys()
    {
        using var dir = new TempDir();
        using var model = TinyModels.Create();
        var peft = Wrap(model);
        peft.AddAdapter("lora", Lora(targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]));
        RandomizeB(peft, "default");
        using var ids = TinyModels.Tokens(1, 8);
        using var adaptedLogits = model.Forward(ids).detach();
        var plain = peft.MergeAndUnload();
        ModelLoader.Save(plain, dir.Path);
        using var reloaded = ModelLoader.Load(dir.Path);
        using var _ = inference_mode();
        Assert.True(allclose(adaptedLogits, reloaded.Forward(ids), rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Named_adapters_switch_disable_delete_and_save_into_subfolders()
    {
        using var dir = new TempDir();
        using var model = TinyModels.Create();
        var peft = Wrap(model);
        peft.AddAdapter("lora", Lora(), "first");
        RandomizeB(peft, "first", seed: 1);
        peft.AddAdapter("lora", Lora(r: 2), "second");
        RandomizeB(peft, "second", seed: 2);
        using var ids = TinyModels.Tokens(1, 8);
        using var _ = no_grad();

        Assert.Equal("second", peft.ActiveAdapter);
        Assert.All(peft.TrainableParameters(), p => Assert.Contains("lora", p.Name));
        Assert.Equal(peft["second"].Adapter.NamedParameters().Count(), peft.TrainableParameters().Count);
        using var second = model.Forward(ids).detach();
        peft.SetAdapter("first");
        using var first = model.Forward(ids).detach();
        Tensor baseLogits;
        using (peft.DisableAdapter()) baseLogits = model.Forward(ids).detach();
        Assert.False(allclose(first, second));
        Assert.False(allclose(first, baseLogits));
        Assert.True(allclose(first, model.Forward(ids)), "the disable scope must end");

        peft.SaveAdapter(dir.Path);
        Assert.True(File.Exists(Path.Combine(dir.Path, "first", "adapter_config.json")));
        Assert.True(File.Exists(Path.Combine(dir.Path, "second", "adapter_model.safetensors")));

        peft.DeleteAdapter("first");
        Assert.Equal("second", peft.ActiveAdapter);
        Assert.True(allclose(second, model.Forward(ids), rtol: 0, atol: 1e-6));
        Assert.Contains("no adapter 'first'", Assert.Throws<ArgumentException>(() => peft.SetAdapter("first")).Message);
    }

    [Fact]
    public void Mixed_adapter_generation_serves_each_row_with_its_own_adapter()
    {
        using var model = TinyModels.Create();
        var peft = Wrap(model);
        peft.AddAdapter("lora", Lora(), "a");
        RandomizeB(peft, "a", seed: 5);
        peft.AddAdapter("lora", Lora(), "b");
        RandomizeB(peft, "b", seed: 6);
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 6, StopAtEos = false };
        int[] prompt = [1, 9, 4, 33];

        IReadOnlyList<List<int>> mixed;
        using (peft.UseRowAdapters(["a", "b", IAdapterRouting.BaseModelName]))
            mixed = generator.Generate([prompt, prompt, prompt], options);
        peft.SetAdapter("a");
        var onlyA = generator.Generate([prompt], options)[0];
        peft.SetAdapter("b");
        var onlyB = generator.Generate([prompt], options)[0];
        List<int> onlyBase;
        using (peft.DisableAdapter()) onlyBase = generator.Generate([prompt], options)[0];
        Assert.Equal(onlyA, mixed[0]);
        Assert.Equal(onlyB, mixed[1]);
        Assert.Equal(onlyBase, mixed[2]);
    }

    [Fact]
    public void Recipe_options_with_a_typo_get_a_did_you_mean()
    {
        using var model = TinyModels.Create();
        var peft = Wrap(model);
        var e = Assert.Throws<ConfigException>(() => peft.AddAdapter("lora", new JsonObject { ["r"] = 4, ["loraAlph"] = 8 }));
        Assert.Contains("'loraAlph'", e.Message);
        Assert.Contains("did you mean 'loraAlpha'", e.Message);
        Assert.Contains("did you mean 'lora'", Assert.Throws<ConfigException>(() => peft.AddAdapter("lorra", Lora())).Message);
    }

    [Fact]
    public void Weighted_cat_combination_equals_the_weighted_sum_of_deltas()
    {
        using var model = TinyModels.Create();
        var peft = Wrap(model);
        peft.AddAdapter("lora", Lora(), "a");
        RandomizeB(peft, "a", seed: 11);
        peft.AddAdapter("lora", Lora(), "b");
        RandomizeB(peft, "b", seed: 12);
        using var ids = TinyModels.Tokens(1, 7);
        using var _ = no_grad();
        peft.SetAdapter("a");
        using var a = model.Forward(ids).detach();
        peft.AddWeightedAdapter(["a", "b"], [1.0, 0.0], "just_a", "cat");
        peft.SetAdapter("just_a");
        Assert.True(allclose(a, model.Forward(ids), rtol: 0, atol: 1e-5));
    }
}
