using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Plugins.IA3;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static PeftHost.Tests.Methods.MethodTestSupport;
using static TorchSharp.torch;

namespace PeftHost.Tests.Methods;

/// <summary>(IA)³: PEFT's parameter counts, vector placement, forward semantics, merge, saved format, routing, training.</summary>
public sealed class IA3Tests
{
    /// <summary>PEFT: one vector per target, [out, 1] for k_proj/v_proj and [1, in] for the feed-forward down_proj.</summary>
    private static long Trainable(long kvDim, long intermediate, int layers) => layers * (kvDim + kvDim + intermediate);

    [Fact]
    public void Parameter_counts_match_peft_on_llama2_7b()
    {
        var (model, peft) = MetaLlama2_7B();
        using var _ = model;
        peft.AddAdapter("ia3", new JsonObject());
        long expected = Trainable(4096, 11008, 32);
        Assert.Equal(614_400, expected);
        var (trainable, all) = peft.CountParameters();
        Assert.Equal(expected, trainable);
        Assert.Equal(Llama2_7BParameters + expected, all);
        Assert.Equal("trainable params: 614,400 || all params: 6,739,030,016 || trainable%: 0.0091", peft.TrainableParametersLine());
    }

    [Fact]
    public void Default_targets_get_output_and_input_vectors_of_ones_and_save_in_peft_layout()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 9);
        using var before = Logits(model, ids);
        var adapter = (IA3Adapter)peft.AddAdapter("ia3", new JsonObject()).Adapter;
        Assert.Equal(Trainable(16, 64, 2), peft.CountParameters().Trainable);
        var shapes = adapter.NamedParameters().ToDictionary(p => p.Key, p => p.Parameter.shape);
        Assert.Equal(6, shapes.Count);
        Assert.Equal([16L, 1], shapes["base_model.model.model.layers.0.self_attn.k_proj.ia3_l"]);
        Assert.Equal([16L, 1], shapes["base_model.model.model.layers.1.self_attn.v_proj.ia3_l"]);
        Assert.Equal([1L, 64], shapes["base_model.model.model.layers.0.mlp.down_proj.ia3_l"]);
        Assert.All(adapter.Layers, l => Assert.Equal(l.Path.EndsWith("down_proj"), l.Layer.IsFeedforward));
        using var after = Logits(model, ids);
        Assert.True(MaxDiff(before, after) < 1e-6, "vectors of ones are a no-op");

        using var dir = new TempDir();
        peft.SaveAdapter(dir.Path);
        var json = ReadConfig(dir.Path);
        Assert.Equal("IA3", json["peft_type"]!.GetValue<string>());
        Assert.Equal("[\"down_proj\",\"k_proj\",\"v_proj\"]", Sorted(json["target_modules"]));
        Assert.Equal("[\"down_proj\"]", Sorted(json["feedforward_modules"]));
        foreach (var key in new[] { "init_ia3_weights", "fan_in_fan_out", "modules_to_save", "exclude_modules", "task_type", "inference_mode", "base_model_name_or_path", "revision", "auto_mapping" })
            Assert.True(json.ContainsKey(key), key);
        var state = ReadState(dir.Path);
        try
        {
            Assert.Equal(shapes.Keys.Order(), state.Keys.Order());
            foreach (var (key, shape) in shapes) Assert.Equal(shape, state[key].shape);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    private static string Sorted(JsonNode? list) =>
        new JsonArray(list!.AsArray().Select(n => n!.GetValue<string>()).Order(StringComparer.Ordinal).Select(s => (JsonNode)JsonValue.Create(s)).ToArray()).ToJsonString();

    [Fact]
    public void Output_layers_scale_their_output_and_feedforward_layers_their_input()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        var adapter = (IA3Adapter)peft.AddAdapter("ia3", new JsonObject()).Adapter;
        manual_seed(11);
        using (no_grad())
            foreach (var (_, p) in adapter.NamedParameters()) p.copy_(rand_like(p) + 0.5);
        using var x = randn(2, 3, 32);
        using var h = randn(2, 3, 64);
        var k = adapter.Layers.Single(l => l.Path == "model.layers.0.self_attn.k_proj").Layer;
        var down = adapter.Layers.Single(l => l.Path == "model.layers.0.mlp.down_proj").Layer;
        using (no_grad())
        {
            using var kOut = k.forward(x);
            using var kRef = k.BaseLayer.forward(x) * k.Vector("default").flatten();
            Assert.True(MaxDiff(kOut, kRef) < 1e-6);
            using var downOut = down.forward(h);
            using var downRef = down.BaseLayer.forward(h * down.Vector("default").flatten());
            Assert.True(MaxDiff(downOut, downRef) < 1e-6);
        }
    }

    [Fact]
    public void Merge_and_unmerge_multiply_rows_and_columns()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 10);
        var adapter = (IA3Adapter)peft.AddAdapter("ia3", new JsonObject()).Adapter;
        manual_seed(12);
        using (no_grad())
            foreach (var (_, p) in adapter.NamedParameters()) p.copy_(rand_like(p) + 0.5);
        var weights = new[] { "model.layers.0.self_attn.k_proj.base_layer.weight", "model.layers.1.mlp.down_proj.base_layer.weight" };
        var originals = weights.Select(w => model.get_parameter(w)!.detach().clone()).ToArray();
        using var unmerged = Logits(model, ids);
        peft.MergeAdapter();
        Assert.True(adapter.IsMerged);
        using (no_grad())
        {
            var k = adapter.Layers.Single(l => l.Path == "model.layers.0.self_attn.k_proj").Layer;
            using var rows = originals[0] * k.Vector("default"); // [out, in] ⊙ [out, 1]
            Assert.True(MaxDiff(rows, model.get_parameter(weights[0])!) < 1e-6);
            var down = adapter.Layers.Single(l => l.Path == "model.layers.1.mlp.down_proj").Layer;
            using var cols = originals[1] * down.Vector("default"); // [out, in] ⊙ [1, in]
            Assert.True(MaxDiff(cols, model.get_parameter(weights[1])!) < 1e-6);
        }
        using var merged = Logits(model, ids);
        Assert.True(MaxDiff(unmerged, merged) < 1e-5, $"merged vs unmerged {MaxDiff(unmerged, merged)}");
        peft.UnmergeAdapter();
        for (int i = 0; i < weights.Length; i++)
            Assert.True(MaxDiff(originals[i], model.get_parameter(weights[i])!) < 1e-6, weights[i]);
        using var again = Logits(model, ids);
        Assert.True(MaxDiff(unmerged, again) < 1e-5);
        foreach (var t in originals) t.Dispose();
    }

    [Fact]
    public void Save_and_load_round_trip_preserves_outputs()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 11);
        var adapter = peft.AddAdapter("ia3", Options(("targetModules", new JsonArray("q_proj", "k_proj", "up_proj", "down_proj")),
            ("feedforwardModules", new JsonArray("down_proj", "up_proj")))).Adapter;
        manual_seed(13);
        using (no_grad())
            foreach (var (_, p) in adapter.NamedParameters()) p.copy_(rand_like(p) + 0.5);
        using var expected = Logits(model, ids);
        using var dir = new TempDir();
        peft.SaveAdapter(dir.Path);

        var (model2, peft2) = Tiny();
        using var __ = model2;
        var loaded = (IA3Adapter)peft2.LoadAdapter(dir.Path).Adapter;
        Assert.Equal([1L, 32], loaded.NamedParameters().Single(p => p.Key.EndsWith("layers.0.mlp.up_proj.ia3_l")).Parameter.shape);
        using var actual = Logits(model2, ids);
        Assert.True(MaxDiff(expected, actual) < 1e-6);
        Assert.Equal(0, peft2.CountParameters().Trainable);
    }

    [Fact]
    public void Feedforward_modules_must_be_a_subset_of_target_modules()
    {
        var method = new IA3Method();
        var e = Assert.Throws<ConfigException>(() => method.BindConfig(ConfigSource.FromOptions(
            Options(("targetModules", new JsonArray("k_proj", "v_proj")), ("feedforwardModules", new JsonArray("down_proj"))))));
        Assert.Equal("feedforward_modules", e.Key);
        Assert.Contains("'down_proj'", e.Message);
        var (model, peft) = Tiny();
        using var _ = model;
        var adapter = (IA3Adapter)peft.AddAdapter("ia3", Options(("targetModules", new JsonArray("k_proj", "v_proj")))).Adapter;
        Assert.Equal("[]", adapter.IA3Config.FeedforwardModules!.ToJsonString()); // the default, kept to the targets
        Assert.All(adapter.Layers, l => Assert.False(l.Layer.IsFeedforward));
    }

    [Fact]
    public void Mixed_adapter_batches_route_each_row_to_its_vectors()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(3, 8);
        manual_seed(14);
        foreach (var name in new[] { "a", "b" })
        {
            var adapter = peft.AddAdapter("ia3", new JsonObject(), name).Adapter;
            using (no_grad())
                foreach (var (_, p) in adapter.NamedParameters()) p.copy_(rand_like(p) + 0.5);
        }
        peft.SetAdapter("a");
        using var withA = Logits(model, ids);
        peft.SetAdapter("b");
        using var withB = Logits(model, ids);
        Tensor withBase;
        using (peft.DisableAdapter()) withBase = Logits(model, ids);
        Tensor mixed;
        using (peft.UseRowAdapters(["a", "b", "__base__"])) mixed = Logits(model, ids);
        Assert.True(MaxDiff(withA[0], mixed[0]) < 1e-5);
        Assert.True(MaxDiff(withB[1], mixed[1]) < 1e-5);
        Assert.True(MaxDiff(withBase[2], mixed[2]) < 1e-5);
        Assert.True(MaxDiff(withA[0], withB[0]) > 1e-3);
        withBase.Dispose();
        mixed.Dispose();
    }

    [Fact]
    public void Fine_tuning_stories260k_lowers_the_loss()
    {
        var (model, peft, tokenizer) = Stories();
        using var _ = model;
        using var ids = StoryIds(tokenizer);
        double before = Loss(model, ids);
        peft.AddAdapter("ia3", new JsonObject());
        Train(peft, ids, 30, 3e-2);
        double after = Loss(model, ids);
        Assert.True(after < before - 0.05, $"loss {before:F4} → {after:F4}");
        peft.DeleteAdapter("default");
        Assert.DoesNotContain(model.named_modules(), m => m.module is IA3Layer);
        Assert.True(Math.Abs(Loss(model, ids) - before) < 1e-5, "removing the adapter restores the base model");
    }
}
