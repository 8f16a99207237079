using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Models;

/// <summary>KV caching, grouped-query attention, padding and sliding windows against full recomputation.</summary>
public sealed class AttentionTests
{
    [Theory]
    [InlineData(null, 4)]
    [InlineData(6, 4)] // a Mistral-style sliding window shorter than the sequence
    [InlineData(null, 2)] // grouped-query attention: one-token steps read the cache without repeating its heads
    [InlineData(6, 2)]
    public void Cached_decoding_equals_full_recomputation(int? slidingWindow, int kvHeads)
    {
        using var model = TinyModels.Create(c =>
        {
            c["num_key_value_heads"] = kvHeads;
            if (slidingWindow is int w) { c["architectures"] = new System.Text.Json.Nodes.JsonArray("MistralForCausalLM"); c["model_type"] = "mistral"; c["sliding_window"] = w; }
        });
        using var ids = TinyModels.Tokens(2, 16);
        using var _ = inference_mode();
        using var full = model.Forward(ids);
        using var cache = new KvCache(model.Config, 2, 32, ScalarType.Float32, CPU);
        using var prefill = model.Forward(ids[.., ..9], cache: cache);
        Assert.True(allclose(prefill, full[.., ..9], rtol: 0, atol: 1e-5));
        for (int t = 9; t < 16; t++)
        {
            using var step = model.Forward(ids[.., t..(t + 1)], cache: cache);
            float diff = (step[.., 0] - full[.., t]).abs().max().item<float>();
            Assert.True(diff <= 1e-5, $"position {t}: max |cached − full| = {diff}");
        }
        Assert.Equal(16, cache.Length);
    }

    [Fact]
    public void Grouped_query_attention_equals_multi_head_attention_with_repeated_kv_heads()
    {
        using var gqa = TinyModels.Create(c => c["num_key_value_heads"] = 2);
        using var mha = TinyModels.Create(c => c["num_key_value_heads"] = 4);
        var source = gqa.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
        {
            foreach (var (name, p) in mha.named_parameters())
            {
                if (name.EndsWith("k_proj.weight") || name.EndsWith("v_proj.weight"))
                {
                    // Each KV head serves two query heads: repeat its rows [2 heads × 8] → [4 heads × 8].
                    var w = source[name].view(2, 1, 8, 32).expand(2, 2, 8, 32).reshape(32, 32);
                    p.copy_(w);
                }
                else p.copy_(source[name]);
            }
        }
        using var ids = TinyModels.Tokens(2, 12);
        using var _ = inference_mode();
        Assert.True(allclose(gqa.Forward(ids), mha.Forward(ids), rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Left_padded_rows_give_the_same_logits_as_unpadded_rows()
    {
        using var model = TinyModels.Create();
        using var ids = TinyModels.Tokens(1, 10);
        using var _ = inference_mode();
        using var alone = model.Forward(ids);
        using var padded = cat([zeros(1, 4, ScalarType.Int64), ids], 1);
        using var mask = cat([zeros(1, 4, ScalarType.Int64), ones(1, 10, ScalarType.Int64)], 1);
        using var logits = model.Forward(padded, mask);
        Assert.False(logits.isnan().any().item<bool>());
        Assert.True(allclose(logits[.., 4..], alone, rtol: 0, atol: 1e-5));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(2)] // grouped-query attention: the padding mask applies to every query head of a group
    public void Batched_generation_with_padding_matches_one_prompt_at_a_time(int kvHeads)
    {
        using var model = TinyModels.Create(c => c["num_key_value_heads"] = kvHeads);
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 8, StopAtEos = false };
        int[] shortPrompt = [1, 5, 9];
        int[] longPrompt = [1, 7, 3, 22, 41, 8];
        var batched = generator.Generate([shortPrompt, longPrompt], options);
        Assert.Equal(generator.Generate([shortPrompt], options)[0], batched[0]);
        Assert.Equal(generator.Generate([longPrompt], options)[0], batched[1]);
    }

    [Fact]
    public void Generation_with_and_without_the_cache_agree()
    {
        using var model = TinyModels.Create();
        var generator = new TextGenerator(model);
        var cached = generator.Generate([[1, 4, 9, 16]], new GenerationOptions { Temperature = 0, MaxNewTokens = 20, StopAtEos = false });
        var uncached = generator.Generate([[1, 4, 9, 16]], new GenerationOptions { Temperature = 0, MaxNewTokens = 20, StopAtEos = false, UseCache = false });
        Assert.Equal(uncached[0], cached[0]);
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_top_k_1_is_greedy()
    {
        using var model = TinyModels.Create();
        var generator = new TextGenerator(model);
        var sample = new GenerationOptions { Temperature = 1.0, TopP = 0.9, RepetitionPenalty = 1.3, Seed = 42, MaxNewTokens = 12, StopAtEos = false };
        Assert.Equal(generator.Generate([[1, 2, 3]], sample)[0], generator.Generate([[1, 2, 3]], sample)[0]);
        var topOne = generator.Generate([[1, 2, 3]], new GenerationOptions { Temperature = 0.7, TopK = 1, Seed = 5, MaxNewTokens = 12, StopAtEos = false });
        var greedy = generator.Generate([[1, 2, 3]], new GenerationOptions { Temperature = 0, MaxNewTokens = 12, StopAtEos = false });
        Assert.Equal(greedy[0], topOne[0]);
    }

    [Fact]
    public void Qwen2_configs_get_qkv_biases_and_llama_attention_bias_gets_all_four()
    {
        using var qwen = TinyModels.Create(c => { c["architectures"] = new System.Text.Json.Nodes.JsonArray("Qwen2ForCausalLM"); c["model_type"] = "qwen2"; });
        var names = qwen.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", names);
        Assert.Contains("model.layers.0.self_attn.v_proj.bias", names);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", names);
        using var llama = TinyModels.Create(c => c["attention_bias"] = true);
        Assert.Contains("model.layers.0.self_attn.o_proj.bias", llama.named_parameters().Select(p => p.name));
    }
}
