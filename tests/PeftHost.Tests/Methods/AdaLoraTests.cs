using System.Text.Json.Nodes;
using PeftHost.Core.Peft;
using PeftHost.Plugins.AdaLora;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using static PeftHost.Tests.Methods.MethodTestSupport;
using static TorchSharp.torch;

namespace PeftHost.Tests.Methods;

/// <summary>AdaLoRA: PEFT's parameter counts, schedule, allocation, regulariser, saved format and pruned loading.</summary>
public sealed class AdaLoraTests
{
    /// <summary>PEFT: per adapted [out, in] module init_r·in (lora_A) + init_r (lora_E) + out·init_r (lora_B) trainable, plus 1 frozen ranknum.</summary>
    private static long Trainable(int initR, IEnumerable<(long In, long Out)> modules) => modules.Sum(m => initR * (m.In + m.Out + 1));

    private static JsonObject Schedule(int initR = 6, int targetR = 2) => Options(
        ("initR", initR), ("targetR", targetR), ("totalStep", 30), ("tinit", 5), ("tfinal", 5), ("deltaT", 2), ("loraAlpha", 8));

    [Fact]
    public void Parameter_counts_match_peft_on_llama2_7b()
    {
        var (model, peft) = MetaLlama2_7B();
        using var _ = model;
        peft.AddAdapter("adalora", Options(("totalStep", 1000)));
        // Defaults: init_r 12 on q_proj and v_proj (4096 → 4096) in 32 layers.
        long expected = Trainable(12, Enumerable.Repeat((4096L, 4096L), 64));
        Assert.Equal(6_292_224, expected);
        var (trainable, all) = peft.CountParameters();
        Assert.Equal(expected, trainable);
        Assert.Equal(Llama2_7BParameters + expected + 64, all); // + one ranknum per module
        Assert.Equal("trainable params: 6,292,224 || all params: 6,744,707,904 || trainable%: 0.0933", peft.TrainableParametersLine());
    }

    [Fact]
    public void Parameter_counts_and_shapes_on_the_tiny_model()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        var entry = peft.AddAdapter("adalora", Schedule());
        // q_proj 32 → 32, v_proj 32 → 16 (2 kv heads × 8) in 2 layers.
        var (trainable, all) = peft.CountParameters();
        Assert.Equal(Trainable(6, [(32, 32), (32, 16), (32, 32), (32, 16)]), trainable);
        var names = entry.Adapter.NamedParameters().ToDictionary(p => p.Key, p => p.Parameter.shape);
        Assert.Equal([6L, 32], names["base_model.model.model.layers.0.self_attn.v_proj.lora_A"]);
        Assert.Equal([6L, 1], names["base_model.model.model.layers.0.self_attn.v_proj.lora_E"]);
        Assert.Equal([16L, 6], names["base_model.model.model.layers.0.self_attn.v_proj.lora_B"]);
        Assert.Equal(12, names.Count);
        Assert.Contains(model.named_parameters(), p => p.name == "model.layers.1.self_attn.q_proj.ranknum.default" && !p.parameter.requires_grad);
        var layer = ((AdaLoraAdapter)entry.Adapter).Layers[0].Layer;
        Assert.Equal(0, layer.LoraE("default").abs().sum().item<float>()); // E starts at zero: a no-op
        Assert.InRange(layer.LoraA("default").std().item<float>(), 0.01, 0.03);
    }

    [Fact]
    public void Budget_schedule_follows_the_cubic_formula_step_by_step()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        var adapter = (AdaLoraAdapter)peft.AddAdapter("adalora", Schedule()).Adapter;
        var allocator = adapter.Allocator;
        Assert.Equal(24, allocator.InitialBudget); // 4 modules × init_r 6
        Assert.Equal(8, allocator.TargetBudget);   // 4 modules × target_r 2
        for (int step = 0; step <= 32; step++)
        {
            (int, bool) expected;
            if (step <= 5) expected = (24, false);
            else if (step > 25) expected = (8, true);
            else
            {
                double mul = 1 - (step - 5) / 20.0;
                expected = ((int)(16 * mul * mul * mul + 8), step % 2 == 0);
            }
            Assert.Equal(expected, allocator.BudgetSchedule(step));
        }
        Assert.Equal((21, true), allocator.BudgetSchedule(6));  // ⌊16·0.95³ + 8⌋ = ⌊21.718⌋
        Assert.Equal((10, false), allocator.BudgetSchedule(15)); // 16·0.5³ + 8 = 10, odd step: no masking
    }

    [Fact]
    public void Training_prunes_to_the_target_budget_and_the_pruned_adapter_saves_and_loads()
    {
        var (model, peft, tokenizer) = Stories();
        using var _ = model;
        using var ids = StoryIds(tokenizer);
        double before = Loss(model, ids);
        manual_seed(3);
        var entry = peft.AddAdapter("adalora", Schedule());
        var adapter = (AdaLoraAdapter)entry.Adapter;
        Assert.Equal(60, adapter.Allocator.InitialBudget); // 5 layers × (q, v) × 6
        Assert.Equal(20, adapter.Allocator.TargetBudget);
        var budgets = new List<int>();
        var losses = Train(peft, ids, 30, 2e-2, step => budgets.Add(adapter.EffectiveRank()));
        double after = Loss(model, ids);
        Assert.True(after < before - 0.05, $"loss {before:F4} → {after:F4}");

        // Masking steps hit the scheduled budget; from total_step − tfinal on, the target budget holds.
        for (int step = 6; step <= 25; step += 2) Assert.True(budgets[step] <= adapter.Allocator.BudgetSchedule(step).Budget, $"step {step}: {budgets[step]}");
        for (int step = 25; step < 30; step++) Assert.Equal(20, budgets[step]);
        var pattern = adapter.AdaLoraConfig.ReadRankPattern()!;
        Assert.Equal(10, pattern.Count);
        Assert.Equal(20, pattern.Values.Sum(p => p.Count(k => k)));
        Assert.All(pattern.Keys, k => Assert.Matches(@"^model\.layers\.\d\.self_attn\.[qv]_proj\.lora_E$", k));

        using var trained = Logits(model, ids);
        using var dir = new TempDir();
        peft.SaveAdapter(dir.Path);
        var json = ReadConfig(dir.Path);
        Assert.Equal("ADALORA", json["peft_type"]!.GetValue<string>());
        Assert.Equal(2, json["deltaT"]!.GetValue<int>());
        Assert.Null(json["delta_t"]);
        Assert.Equal(30, json["total_step"]!.GetValue<int>());
        Assert.True(json["inference_mode"]!.GetValue<bool>());
        Assert.Equal(JsonNode.Parse("[\"q_proj\",\"v_proj\"]")!.ToJsonString(), json["target_modules"]!.ToJsonString());
        Assert.Equal(10, json["rank_pattern"]!.AsObject().Count);
        foreach (var key in new[] { "init_r", "target_r", "tinit", "tfinal", "beta1", "beta2", "orth_reg_weight", "lora_alpha", "r", "task_type" })
            Assert.True(json.ContainsKey(key), key);

        var state = ReadState(dir.Path);
        try
        {
            Assert.Equal(30, state.Count);
            long totalRank = 0;
            foreach (var (key, keep) in pattern)
            {
                string module = "base_model.model." + key[..^".lora_E".Length];
                int rank = keep.Count(k => k);
                totalRank += rank;
                long outFeatures = module.EndsWith("q_proj") ? 64 : 32;
                Assert.Equal([rank, 64L], state[module + ".lora_A"].shape);
                Assert.Equal([rank, 1L], state[module + ".lora_E"].shape);
                Assert.Equal([outFeatures, rank], state[module + ".lora_B"].shape);
                Assert.Equal(ScalarType.Float32, state[module + ".lora_A"].dtype);
            }
            Assert.Equal(20, totalRank);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }

        // A fresh model takes its shapes from rank_pattern and reproduces the trained outputs.
        var (model2, peft2, _) = Stories();
        using var __ = model2;
        var loaded = (AdaLoraAdapter)peft2.LoadAdapter(dir.Path).Adapter;
        Assert.Equal(20, loaded.Layers.Sum(l => l.Layer.Rank("default")));
        Assert.All(loaded.Layers, l => Assert.Equal(6.0, l.Layer.Settings("default").RankNum));
        using var reloaded = Logits(model2, ids);
        // Same function (dropped triplets had E = 0), smaller matmuls: equal up to float summation order.
        Assert.True(MaxDiff(trained, reloaded) < 1e-4, $"max diff {MaxDiff(trained, reloaded)}");
        Assert.Equal(0, peft2.CountParameters().Trainable);

        // Loaded to train on (or re-injected by a hot reload): the full init_r layout, dropped triplets at E = 0.
        var (model3, peft3, _) = Stories();
        using var ___ = model3;
        var resumed = (AdaLoraAdapter)peft3.LoadAdapter(dir.Path, isTrainable: true).Adapter;
        Assert.Equal(60, resumed.Layers.Sum(l => l.Layer.Rank("default")));
        Assert.Equal(20, resumed.EffectiveRank());
        Assert.Equal(60, resumed.Allocator.InitialBudget);
        using var resumedLogits = Logits(model3, ids);
        Assert.True(MaxDiff(trained, resumedLogits) < 1e-4, $"max diff {MaxDiff(trained, resumedLogits)}");
        var again = resumed.GetState();
        Assert.Equal(20, again.Where(kv => kv.Key.EndsWith(".lora_A")).Sum(kv => kv.Value.shape[0]));
        foreach (var t in again.Values) t.Dispose();
    }

    [Fact]
    public void Save_and_load_round_trip_preserves_outputs_of_an_unpruned_adapter()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 12);
        manual_seed(5);
        var adapter = peft.AddAdapter("adalora", Schedule()).Adapter;
        using (no_grad())
            foreach (var (key, p) in adapter.NamedParameters().Where(p => p.Key.EndsWith("lora_E")))
                p.normal_(0, 0.5);
        using var expected = Logits(model, ids);
        using var dir = new TempDir();
        peft.SaveAdapter(dir.Path);
        var json = ReadConfig(dir.Path);
        Assert.Null(json["rank_pattern"]);

        var (model2, peft2) = Tiny();
        using var __ = model2;
        peft2.LoadAdapter(dir.Path);
        using var actual = Logits(model2, ids);
        Assert.True(MaxDiff(expected, actual) < 1e-6);
        using var baseLogits = Logits(TinyModels.Create(), ids);
        Assert.True(MaxDiff(baseLogits, actual) > 1e-3, "the adapter should change the outputs");
    }

    [Fact]
    public void Orthogonal_regulariser_is_the_mean_frobenius_distance_weighted()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        var adapter = (AdaLoraAdapter)peft.AddAdapter("adalora", Schedule()).Adapter;
        var term = model.Hooks.ActiveLossTerms().Single();
        using var value = term.Compute()!;
        double expected = 0;
        foreach (var (_, layer) in adapter.Layers)
        {
            var a = layer.LoraA("default").detach();
            var b = layer.LoraB("default").detach();
            expected += FrobeniusFromIdentity(a.matmul(a.t())) + FrobeniusFromIdentity(b.t().matmul(b));
        }
        expected = 0.5 * expected / (2 * adapter.Layers.Count);
        Assert.Equal(expected, value.item<float>(), 4);
        value.backward();
        Assert.NotNull(adapter.Layers[0].Layer.LoraA("default").grad);
    }

    private static double FrobeniusFromIdentity(Tensor m)
    {
        using var scope = NewDisposeScope();
        var d = m - eye(m.shape[0]);
        return Math.Sqrt(d.pow(2).sum().item<float>());
    }

    [Fact]
    public void Merge_and_unmerge_fold_the_svd_delta_into_the_weights()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 10);
        var adapter = (AdaLoraAdapter)peft.AddAdapter("adalora", Schedule()).Adapter;
        using (no_grad())
            foreach (var (_, layer) in adapter.Layers) layer.LoraE("default").normal_(0, 1);
        using var original = model.get_parameter("model.layers.0.self_attn.q_proj.base_layer.weight")!.detach().clone();
        using var unmerged = Logits(model, ids);
        peft.MergeAdapter();
        Assert.True(adapter.IsMerged);
        using var merged = Logits(model, ids);
        Assert.True(MaxDiff(unmerged, merged) < 1e-5, $"{MaxDiff(unmerged, merged)}");
        peft.UnmergeAdapter();
        using var restored = model.get_parameter("model.layers.0.self_attn.q_proj.base_layer.weight")!.detach();
        Assert.True(MaxDiff(original, restored) < 1e-6);
        var baseModel = peft.MergeAndUnload();
        Assert.DoesNotContain(baseModel.named_parameters(), p => p.name.Contains("lora_"));
        using var plain = Logits(baseModel, ids);
        Assert.True(MaxDiff(unmerged, plain) < 1e-5);
    }

    [Fact]
    public void DeltaT_is_read_in_peft_spelling_and_schedule_errors_name_the_key()
    {
        var method = new AdaLoraMethod();
        var fromFile = (AdaLoraConfig)method.BindConfig(ConfigSource.FromAdapterConfig(
            Options(("peft_type", "ADALORA"), ("deltaT", 7), ("total_step", 100), ("init_r", 12)), "adapter_config.json"));
        Assert.Equal(7, fromFile.DeltaT);
        Assert.Equal(7, fromFile.ToJson()["deltaT"]!.GetValue<int>());
        var fromRecipe = (AdaLoraConfig)method.BindConfig(ConfigSource.FromOptions(Options(("deltaT", 3), ("totalStep", 50))));
        Assert.Equal(3, fromRecipe.DeltaT);
        var missing = Assert.Throws<ConfigException>(() => method.BindConfig(ConfigSource.FromOptions(Options(("initR", 12)))));
        Assert.Equal("total_step", missing.Key);
        var noBudget = Assert.Throws<ConfigException>(() => method.BindConfig(ConfigSource.FromOptions(Options(("totalStep", 10), ("tinit", 6), ("tfinal", 4)))));
        Assert.Equal("tinit", noBudget.Key);
        var typo = Assert.Throws<ConfigException>(() => method.BindConfig(ConfigSource.FromOptions(Options(("totalStep", 10), ("targetRr", 4)))));
        Assert.Contains("targetR", typo.Message);
    }

    [Fact]
    public void Loading_mismatched_tensors_names_the_key_and_both_shapes()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        var adapter = peft.AddAdapter("adalora", Schedule()).Adapter;
        var state = adapter.GetState().ToDictionary(kv => kv.Key, kv => kv.Value);
        state["base_model.model.model.layers.1.self_attn.v_proj.lora_B"] = zeros(16, 5);
        var e = Assert.Throws<InvalidDataException>(() => adapter.LoadState(state));
        Assert.Contains("'base_model.model.model.layers.1.self_attn.v_proj.lora_B'", e.Message);
        Assert.Contains("[16, 5]", e.Message);
        Assert.Contains("[16, 6]", e.Message);
    }

    [Fact]
    public void Only_one_trainable_adalora_adapter_is_allowed()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        peft.AddAdapter("adalora", Schedule(), "first");
        var e = Assert.Throws<ConfigException>(() => peft.AddAdapter("adalora", Schedule(), "second"));
        Assert.Equal("inference_mode", e.Key);
        peft.DeleteAdapter("first");
        Assert.DoesNotContain(model.named_modules(), m => m.module is AdaLoraLayer);
    }
}
