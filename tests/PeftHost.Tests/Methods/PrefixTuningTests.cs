using System.Text.Json.Nodes;
using PeftHost.Core.Generation;
using PeftHost.Plugins.PrefixTuning;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using static PeftHost.Tests.Methods.MethodTestSupport;
using static TorchSharp.torch;

namespace PeftHost.Tests.Methods;

/// <summary>Prefix tuning: PEFT's parameter counts, GQA prefix shapes and layout, saved format, KV-cache generation, training.</summary>
public sealed class PrefixTuningTests
{
    /// <summary>PEFT without projection: a table [P, L·2·token_dim], token_dim = kv heads × head dim.</summary>
    private static long TableParameters(long p, long layers, long tokenDim) => p * layers * 2 * tokenDim;

    /// <summary>PEFT with projection: Embedding [P, T] + Linear(T, H) + Linear(H, L·2·T) (weights and biases).</summary>
    private static long ProjectionParameters(long p, long layers, long tokenDim, long hidden) =>
        p * tokenDim + (tokenDim * hidden + hidden) + (hidden * layers * 2 * tokenDim + layers * 2 * tokenDim);

    [Fact]
    public void Parameter_counts_match_peft_on_llama2_7b()
    {
        var (model, peft) = MetaLlama2_7B();
        using var _ = model;
        peft.AddAdapter("prefix_tuning", Options(("numVirtualTokens", 20)), "table");
        long table = TableParameters(20, 32, 4096);
        Assert.Equal(5_242_880, table);
        Assert.Equal((table, Llama2_7BParameters + table), peft.CountParameters());
        Assert.Equal("trainable params: 5,242,880 || all params: 6,743,658,496 || trainable%: 0.0777", peft.TrainableParametersLine());

        peft.AddAdapter("prefix_tuning", Options(("numVirtualTokens", 20), ("prefixProjection", true), ("encoderHiddenSize", 512)), "projected");
        long projected = ProjectionParameters(20, 32, 4096, 512);
        Assert.Equal(136_659_456, projected);
        var (trainable, all) = peft.CountParameters(); // only the active (last added) adapter trains
        Assert.Equal(projected, trainable);
        Assert.Equal(Llama2_7BParameters + table + projected, all);
    }

    [Fact]
    public void Grouped_query_attention_prefixes_have_the_key_value_heads()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        var adapter = (PrefixTuningAdapter)peft.AddAdapter("prefix_tuning", Options(("numVirtualTokens", 4))).Adapter;
        var c = adapter.PrefixConfig;
        Assert.Equal((16, 2, 2, 1, 16), (c.TokenDim, c.NumAttentionHeads, c.NumLayers, c.NumTransformerSubmodules, c.EncoderHiddenSize));
        Assert.Equal(TableParameters(4, 2, 16), peft.CountParameters().Trainable);
        Assert.Equal([4L, 64], adapter.Encoder.Embedding.Weight.shape);

        using var flat = adapter.Encoder.Prefix().detach().clone();
        using var prefix = adapter.Compute(3);
        for (int layer = 0; layer < 2; layer++)
        {
            var (k, v) = prefix.ForLayer(layer);
            Assert.Equal([3L, 2, 4, 8], k.shape);
            Assert.Equal([3L, 2, 4, 8], v.shape);
            // PEFT's layout: row p of the table is (layer, key|value, head, dim).
            using var view = flat.view(4, 4, 2, 8);
            using var expectedK = view[.., 2 * layer].permute(1, 0, 2);
            using var expectedV = view[.., 2 * layer + 1].permute(1, 0, 2);
            Assert.True(MaxDiff(expectedK, k[2]) == 0);
            Assert.True(MaxDiff(expectedV, v[0]) == 0);
        }
    }

    [Fact]
    public void Saved_prefix_is_the_projection_output_and_loads_to_the_same_outputs()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 7);
        manual_seed(21);
        var adapter = (PrefixTuningAdapter)peft.AddAdapter("prefix_tuning",
            Options(("numVirtualTokens", 3), ("prefixProjection", true), ("encoderHiddenSize", 24))).Adapter;
        Assert.Equal(ProjectionParameters(3, 2, 16, 24), peft.CountParameters().Trainable);
        Assert.Contains(model.named_parameters(), p => p.name == "prompt_encoder.default.transform.2.weight");
        using var expected = Logits(model, ids);
        using var projected = adapter.Encoder.Prefix().detach().clone();

        using var dir = new TempDir();
        peft.SaveAdapter(dir.Path);
        var json = ReadConfig(dir.Path);
        Assert.Equal("PREFIX_TUNING", json["peft_type"]!.GetValue<string>());
        foreach (var (key, value) in new (string, int)[] { ("num_virtual_tokens", 3), ("token_dim", 16), ("num_attention_heads", 2), ("num_layers", 2), ("num_transformer_submodules", 1), ("encoder_hidden_size", 24) })
            Assert.Equal(value, json[key]!.GetValue<int>());
        Assert.True(json["prefix_projection"]!.GetValue<bool>());
        Assert.True(json.ContainsKey("init_weights"));
        var state = ReadState(dir.Path);
        Assert.Equal(["prompt_embeddings"], state.Keys);
        Assert.Equal([3L, 64], state["prompt_embeddings"].shape);
        Assert.True(MaxDiff(projected, state["prompt_embeddings"]) == 0);
        state["prompt_embeddings"].Dispose();

        var (model2, peft2) = Tiny();
        using var __ = model2;
        var loaded = (PrefixTuningAdapter)peft2.LoadAdapter(dir.Path).Adapter;
        Assert.False(loaded.Encoder.IsProjected); // inference mode: the plain table, as PEFT builds it
        using var actual = Logits(model2, ids);
        Assert.True(MaxDiff(expected, actual) < 1e-6);
        Assert.Equal(0, peft2.CountParameters().Trainable);
        Assert.Equal(3 * 64, peft2.CountParameters().All - peft2.Base.named_parameters().Where(p => !p.name.StartsWith("prompt_encoder")).Sum(p => p.parameter.NumberOfElements));
    }

    [Fact]
    public void Cached_and_uncached_generation_agree()
    {
        var (model, peft) = Tiny(seed: 4);
        using var _ = model;
        manual_seed(22);
        var adapter = peft.AddAdapter("prefix_tuning", Options(("numVirtualTokens", 5))).Adapter;
        using (no_grad())
            foreach (var (_, p) in adapter.NamedParameters()) p.mul_(0.5);
        var generator = new TextGenerator(model);
        IReadOnlyList<IReadOnlyList<int>> prompts = [[1, 5, 9, 12], [1, 7]];
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 12, StopAtEos = false };
        var cached = generator.Generate(prompts, options with { UseCache = true });
        var uncached = generator.Generate(prompts, options with { UseCache = false });
        Assert.Equal(uncached[0], cached[0]);
        Assert.Equal(uncached[1], cached[1]);
        List<int> plain;
        using (peft.DisableAdapter()) plain = generator.Generate([prompts[0]], options)[0].ToList();
        Assert.NotEqual(plain, cached[0]);
    }

    [Fact]
    public void Prefix_adapters_refuse_merging_and_mixed_batches()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 5);
        var entry = peft.AddAdapter("prefix_tuning", Options(("numVirtualTokens", 2)));
        Assert.False(entry.Adapter.CanMerge);
        Assert.Throws<InvalidOperationException>(() => peft.MergeAdapter());
        using (peft.UseRowAdapters(["default", "__base__"]))
        {
            var e = Assert.Throws<InvalidOperationException>(() => model.Forward(ids));
            Assert.Contains("mixed-adapter", e.Message);
        }
        var state = new Dictionary<string, Tensor> { ["prompt_embeddings"] = zeros(2, 32) };
        var bad = Assert.Throws<InvalidDataException>(() => entry.Adapter.LoadState(state));
        Assert.Contains("'prompt_embeddings'", bad.Message);
        Assert.Contains("[2, 32]", bad.Message);
        Assert.Contains("[2, 64]", bad.Message);
        peft.DeleteAdapter("default");
        Assert.DoesNotContain(model.named_parameters(), p => p.name.StartsWith("prompt_encoder"));
        Assert.Null(model.Hooks.ActiveAttentionPrefix());
    }

    [Fact]
    public void Config_errors_name_the_key()
    {
        var method = new PrefixTuningMethod();
        var missing = Assert.Throws<ConfigException>(() => method.BindConfig(ConfigSource.FromOptions(new JsonObject())));
        Assert.Equal("num_virtual_tokens", missing.Key);
        var (model, peft) = Tiny();
        using var _ = model;
        var wrong = Assert.Throws<ConfigException>(() => peft.AddAdapter("prefix_tuning", Options(("numVirtualTokens", 2), ("numLayers", 3))));
        Assert.Equal("num_layers", wrong.Key);
    }

    [Fact]
    public void Fine_tuning_stories260k_lowers_the_loss()
    {
        var (model, peft, tokenizer) = Stories();
        using var _ = model;
        using var ids = StoryIds(tokenizer);
        manual_seed(23);
        peft.AddAdapter("prefix_tuning", Options(("numVirtualTokens", 8)));
        var losses = Train(peft, ids, 30, 3e-2);
        double after = Loss(model, ids);
        Assert.True(after < losses[0] - 0.05, $"loss {losses[0]:F4} → {after:F4}");
    }
}
