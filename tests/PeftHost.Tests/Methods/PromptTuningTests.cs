using System.Text.Json.Nodes;
using PeftHost.Core.Generation;
using PeftHost.Plugins.PromptTuning;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using static PeftHost.Tests.Methods.MethodTestSupport;
using static TorchSharp.torch;

namespace PeftHost.Tests.Methods;

/// <summary>Prompt tuning and P-tuning: PEFT's parameter counts, inits, saved format, loading, generation, training.</summary>
public sealed class PromptTuningTests
{
    /// <summary>PEFT's P-tuning MLP: Embedding [V, D] + Linear(D, H) + Linear(H, H) + Linear(H, D).</summary>
    private static long MlpEncoderParameters(long v, long d, long h) => v * d + (d * h + h) + (h * h + h) + (h * d + d);

    /// <summary>
    /// PEFT's P-tuning LSTM: Embedding [V, D] + bidirectional LSTM (per direction and layer 4H·in + 4H·H + 8H, in = D for
    /// the first layer and 2H after) + Linear(2H, 2H) + Linear(2H, D).
    /// </summary>
    private static long LstmEncoderParameters(long v, long d, long h, int layers)
    {
        long lstm = 0;
        for (int l = 0; l < layers; l++)
        {
            long input = l == 0 ? d : 2 * h;
            lstm += 2 * (4 * h * input + 4 * h * h + 8 * h);
        }
        return v * d + lstm + (2 * h * 2 * h + 2 * h) + (2 * h * d + d);
    }

    [Fact]
    public void Parameter_counts_match_peft_on_llama2_7b()
    {
        var (model, peft) = MetaLlama2_7B();
        using var _ = model;
        peft.AddAdapter("prompt_tuning", Options(("numVirtualTokens", 20)), "prompt");
        Assert.Equal((81_920L, Llama2_7BParameters + 81_920), peft.CountParameters());
        Assert.Equal("trainable params: 81,920 || all params: 6,738,497,536 || trainable%: 0.0012", peft.TrainableParametersLine());

        peft.AddAdapter("p_tuning", Options(("numVirtualTokens", 20), ("encoderHiddenSize", 128)), "ptuning");
        long mlp = MlpEncoderParameters(20, 4096, 128);
        Assert.Equal(1_151_232, mlp);
        Assert.Equal((mlp, Llama2_7BParameters + 81_920 + mlp), peft.CountParameters());
    }

    [Fact]
    public void Lstm_prompt_encoder_counts_match_peft()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        var adapter = (PromptLearningAdapter)peft.AddAdapter("p_tuning", Options(("numVirtualTokens", 5),
            ("encoderReparameterizationType", "LSTM"), ("encoderHiddenSize", 12), ("encoderNumLayers", 2), ("encoderDropout", 0.1))).Adapter;
        Assert.Equal(LstmEncoderParameters(5, 32, 12, 2), peft.CountParameters().Trainable);
        Assert.Contains(adapter.NamedParameters(), p => p.Key.StartsWith("prompt_encoder.lstm_head."));
        Assert.Contains(adapter.NamedParameters(), p => p.Key == "prompt_encoder.mlp_head.2.weight");
        using var e = adapter.VirtualEmbeddings(2);
        Assert.Equal([2L, 5, 32], e.shape);
    }

    [Fact]
    public void Text_init_copies_the_embeddings_of_the_tokenized_text_repeated_or_cut()
    {
        var (model, peft, tokenizer) = Stories();
        using var _ = model;
        const string text = "Lily likes the big red ball";
        var ids = tokenizer.Encode(text, addBos: false).Select(i => (long)i).ToArray();
        Assert.InRange(ids.Length, 3, 20);
        foreach (var (name, count) in new[] { ("long", 2 * ids.Length + 1), ("short", 2) })
        {
            var adapter = (PromptLearningAdapter)peft.AddAdapter("prompt_tuning",
                Options(("numVirtualTokens", count), ("promptTuningInit", "TEXT"), ("promptTuningInitText", text)), name).Adapter;
            var expectedIds = Enumerable.Repeat(ids, 3).SelectMany(x => x).Take(count).ToArray();
            using var index = tensor(expectedIds);
            using var expected = model.Model.EmbeddingWeight.detach().index_select(0, index);
            Assert.True(MaxDiff(expected, adapter.Encoder.Embeddings()) == 0, name);
            Assert.Equal(ScalarType.Float32, adapter.Encoder.Embeddings().dtype);
        }
    }

    [Fact]
    public void Sample_vocab_init_copies_rows_of_the_embedding_table()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        manual_seed(31);
        var adapter = (PromptLearningAdapter)peft.AddAdapter("prompt_tuning", Options(("numVirtualTokens", 6), ("promptTuningInit", "SAMPLE_VOCAB"))).Adapter;
        var table = model.Model.EmbeddingWeight.detach();
        var rows = adapter.Encoder.Embeddings().detach();
        for (int i = 0; i < 6; i++)
        {
            using var distance = (table - rows[i]).abs().sum(1).min();
            Assert.Equal(0, distance.item<float>());
        }
        var typo = Assert.Throws<ConfigException>(() => peft.AddAdapter("prompt_tuning", Options(("numVirtualTokens", 2), ("promptTuningInit", "SAMPLE_VOCABS")), "x"));
        Assert.Equal("prompt_tuning_init", typo.Key);
        Assert.Contains("SAMPLE_VOCAB", typo.Message);
    }

    [Fact]
    public void Prompt_tuning_saves_prompt_embeddings_and_round_trips()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 6);
        manual_seed(32);
        var adapter = (PromptLearningAdapter)peft.AddAdapter("prompt_tuning", Options(("numVirtualTokens", 4))).Adapter;
        Assert.Equal(4 * 32, peft.CountParameters().Trainable);
        using var expected = Logits(model, ids);
        Assert.Equal([2L, 6, 64], expected.shape); // virtual positions are stripped from the logits
        using var dir = new TempDir();
        peft.SaveAdapter(dir.Path);
        var json = ReadConfig(dir.Path);
        Assert.Equal("PROMPT_TUNING", json["peft_type"]!.GetValue<string>());
        Assert.Equal("RANDOM", json["prompt_tuning_init"]!.GetValue<string>());
        foreach (var (key, value) in new (string, int)[] { ("num_virtual_tokens", 4), ("token_dim", 32), ("num_attention_heads", 4), ("num_layers", 2), ("num_transformer_submodules", 1) })
            Assert.Equal(value, json[key]!.GetValue<int>());
        foreach (var key in new[] { "prompt_tuning_init_text", "tokenizer_name_or_path", "tokenizer_kwargs", "task_type", "inference_mode" })
            Assert.True(json.ContainsKey(key), key);
        var state = ReadState(dir.Path);
        Assert.Equal(["prompt_embeddings"], state.Keys);
        Assert.Equal([4L, 32], state["prompt_embeddings"].shape);
        Assert.True(MaxDiff(adapter.Encoder.Embeddings(), state["prompt_embeddings"]) == 0);
        state["prompt_embeddings"].Dispose();

        var (model2, peft2) = Tiny();
        using var __ = model2;
        peft2.LoadAdapter(dir.Path);
        using var actual = Logits(model2, ids);
        Assert.True(MaxDiff(expected, actual) < 1e-6);
    }

    [Fact]
    public void P_tuning_saves_the_encoder_output_and_loading_gives_the_same_virtual_embeddings()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 6);
        manual_seed(33);
        var adapter = (PromptLearningAdapter)peft.AddAdapter("p_tuning", Options(("numVirtualTokens", 3), ("encoderHiddenSize", 20))).Adapter;
        Assert.Equal(MlpEncoderParameters(3, 32, 20), peft.CountParameters().Trainable);
        using var output = adapter.Encoder.Embeddings().detach().clone();
        using var table = adapter.Encoder.Embedding.Weight.detach().clone();
        Assert.True(MaxDiff(output, table) > 1e-3, "the MLP changes the embeddings");
        using var expected = Logits(model, ids);
        using var dir = new TempDir();
        peft.SaveAdapter(dir.Path);
        var json = ReadConfig(dir.Path);
        Assert.Equal("P_TUNING", json["peft_type"]!.GetValue<string>());
        Assert.Equal("MLP", json["encoder_reparameterization_type"]!.GetValue<string>());
        Assert.Equal(20, json["encoder_hidden_size"]!.GetValue<int>());
        Assert.Equal(2, json["encoder_num_layers"]!.GetValue<int>());
        Assert.Equal(0.0, json["encoder_dropout"]!.GetValue<double>());
        var state = ReadState(dir.Path);
        Assert.True(MaxDiff(output, state["prompt_embeddings"]) == 0);
        state["prompt_embeddings"].Dispose();

        foreach (bool trainable in new[] { false, true })
        {
            var (model2, peft2) = Tiny();
            using var __ = model2;
            var loaded = (PromptLearningAdapter)peft2.LoadAdapter(dir.Path, isTrainable: trainable).Adapter;
            Assert.False(loaded.Encoder.IsReparameterized);
            Assert.True(MaxDiff(output, loaded.Encoder.Embeddings()) == 0);
            using var actual = Logits(model2, ids);
            Assert.True(MaxDiff(expected, actual) < 1e-6);
            Assert.Equal(trainable ? 3 * 32 : 0, peft2.CountParameters().Trainable);
        }
    }

    [Fact]
    public void Prompt_methods_refuse_merging_and_mixed_batches_and_generate_with_the_cache()
    {
        var (model, peft) = Tiny(seed: 5);
        using var _ = model;
        using var ids = TinyModels.Tokens(2, 5);
        manual_seed(34);
        var entry = peft.AddAdapter("p_tuning", Options(("numVirtualTokens", 3)));
        Assert.Throws<InvalidOperationException>(() => peft.MergeAdapter());
        using (peft.UseRowAdapters(["default", "__base__"]))
            Assert.Contains("mixed-adapter", Assert.Throws<InvalidOperationException>(() => model.Forward(ids)).Message);
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 10, StopAtEos = false };
        IReadOnlyList<IReadOnlyList<int>> prompts = [[1, 4, 8], [1, 9, 10, 11, 3]];
        var cached = generator.Generate(prompts, options);
        var uncached = generator.Generate(prompts, options with { UseCache = false });
        Assert.Equal(uncached[0], cached[0]);
        Assert.Equal(uncached[1], cached[1]);
        peft.DeleteAdapter("default");
        Assert.Null(model.Hooks.ActiveInputEmbeddingHook());
        Assert.DoesNotContain(model.named_parameters(), p => p.name.StartsWith("prompt_encoder"));
    }

    [Fact]
    public void Text_init_without_a_tokenizer_is_a_clear_error()
    {
        var (model, peft) = Tiny();
        using var _ = model;
        var e = Assert.Throws<ConfigException>(() => peft.AddAdapter("prompt_tuning",
            Options(("numVirtualTokens", 2), ("promptTuningInit", "TEXT"), ("promptTuningInitText", "hello"))));
        Assert.Contains("tokenizer", e.Message);
        var noText = Assert.Throws<ConfigException>(() => new PromptTuningMethod().BindConfig(
            ConfigSource.FromOptions(Options(("numVirtualTokens", 2), ("promptTuningInit", "TEXT")))));
        Assert.Equal("prompt_tuning_init_text", noText.Key);
    }

    [Fact]
    public void Fine_tuning_stories260k_lowers_the_loss()
    {
        foreach (var (method, options) in new (string, JsonObject)[]
        {
            ("prompt_tuning", Options(("numVirtualTokens", 8), ("promptTuningInit", "TEXT"), ("promptTuningInitText", "Once upon a time"))),
            ("p_tuning", Options(("numVirtualTokens", 8), ("encoderHiddenSize", 64))),
        })
        {
            var (model, peft, tokenizer) = Stories();
            using var _ = model;
            using var ids = StoryIds(tokenizer);
            manual_seed(35);
            peft.AddAdapter(method, options);
            var losses = Train(peft, ids, 30, 3e-2);
            double after = Loss(model, ids);
            Assert.True(after < losses[0] - 0.05, $"{method}: loss {losses[0]:F4} → {after:F4}");
        }
    }
}
