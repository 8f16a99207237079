using System.Globalization;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Plugins.Lora;
using static TorchSharp.torch;

namespace PeftHost.Tests.Families;

/// <summary>
/// Real models' config.json values (as published on the Hugging Face hub) built on the meta device: the parameter
/// count equals the published total, and LoRA (r = 8) on PEFT's default targets for the family (q_proj, v_proj; PEFT
/// has no default for Phi-3, whose fused qkv_proj is named here) prints PEFT's line, whose trainable count is PEFT's
/// r·(in + out) per adapted linear layer.
/// </summary>
public sealed class PublishedConfigTests
{
    public static TheoryData<string, string, long, long> Models => new()
    {
        {
            "Llama-3.1-8B", """{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256,"max_position_embeddings":131072,"rms_norm_eps":1e-05,"rope_theta":500000.0,"rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},"tie_word_embeddings":false,"attention_bias":false,"mlp_bias":false,"hidden_act":"silu","bos_token_id":128000,"eos_token_id":128001}""",
            8_030_261_248, 32 * (8 * (4096 + 4096) + 8 * (4096 + 1024))
        },
        {
            "Llama-3.2-1B", """{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":2048,"intermediate_size":8192,"num_hidden_layers":16,"num_attention_heads":32,"num_key_value_heads":8,"head_dim":64,"vocab_size":128256,"max_position_embeddings":131072,"rms_norm_eps":1e-05,"rope_theta":500000.0,"rope_scaling":{"factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},"tie_word_embeddings":true,"hidden_act":"silu"}""",
            1_235_814_400, 16 * (8 * (2048 + 2048) + 8 * (2048 + 512))
        },
        {
            "Qwen2.5-0.5B", """{"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":896,"intermediate_size":4864,"num_hidden_layers":24,"num_attention_heads":14,"num_key_value_heads":2,"vocab_size":151936,"max_position_embeddings":32768,"rms_norm_eps":1e-06,"rope_theta":1000000.0,"sliding_window":32768,"use_sliding_window":false,"max_window_layers":24,"tie_word_embeddings":true,"hidden_act":"silu"}""",
            494_032_768, 24 * (8 * (896 + 896) + 8 * (896 + 128))
        },
        {
            // The model card's 0.44B non-embedding parameters plus the (tied) 151936 × 1024 embedding.
            "Qwen3-0.6B", """{"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","hidden_size":1024,"intermediate_size":3072,"num_hidden_layers":28,"num_attention_heads":16,"num_key_value_heads":8,"head_dim":128,"vocab_size":151936,"max_position_embeddings":40960,"rms_norm_eps":1e-06,"rope_theta":1000000,"attention_bias":false,"sliding_window":null,"use_sliding_window":false,"max_window_layers":28,"tie_word_embeddings":true,"hidden_act":"silu"}""",
            596_049_920, 28 * (8 * (1024 + 2048) + 8 * (1024 + 1024))
        },
        {
            "gemma-2-2b", """{"architectures":["Gemma2ForCausalLM"],"model_type":"gemma2","hidden_size":2304,"intermediate_size":9216,"num_hidden_layers":26,"num_attention_heads":8,"num_key_value_heads":4,"head_dim":256,"vocab_size":256000,"max_position_embeddings":8192,"rms_norm_eps":1e-06,"rope_theta":10000.0,"query_pre_attn_scalar":256,"sliding_window":4096,"attn_logit_softcapping":50.0,"final_logit_softcapping":30.0,"hidden_act":"gelu_pytorch_tanh","hidden_activation":"gelu_pytorch_tanh","attention_bias":false,"cache_implementation":"hybrid"}""",
            2_614_341_888, 26 * (8 * (2304 + 2048) + 8 * (2304 + 1024))
        },
        {
            "gemma-3-1b", """{"architectures":["Gemma3ForCausalLM"],"model_type":"gemma3_text","hidden_size":1152,"intermediate_size":6912,"num_hidden_layers":26,"num_attention_heads":4,"num_key_value_heads":1,"head_dim":256,"vocab_size":262144,"max_position_embeddings":32768,"rms_norm_eps":1e-06,"rope_theta":1000000,"rope_local_base_freq":10000,"rope_scaling":null,"query_pre_attn_scalar":256,"sliding_window":512,"sliding_window_pattern":6,"attn_logit_softcapping":null,"final_logit_softcapping":null,"hidden_activation":"gelu_pytorch_tanh","attention_bias":false}""",
            999_885_952, 26 * (8 * (1152 + 1024) + 8 * (1152 + 256))
        },
        {
            "Phi-3-mini-4k-instruct", """{"architectures":["Phi3ForCausalLM"],"model_type":"phi3","hidden_size":3072,"intermediate_size":8192,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":32,"vocab_size":32064,"max_position_embeddings":4096,"original_max_position_embeddings":4096,"rms_norm_eps":1e-05,"rope_theta":10000.0,"rope_scaling":null,"sliding_window":2047,"tie_word_embeddings":false,"hidden_act":"silu","attention_bias":false}""",
            3_821_079_552, 32 * (8 * (3072 + 3 * 3072))
        },
        {
            "Mistral-7B-v0.1", """{"architectures":["MistralForCausalLM"],"model_type":"mistral","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":32000,"max_position_embeddings":32768,"rms_norm_eps":1e-05,"rope_theta":10000.0,"sliding_window":4096,"tie_word_embeddings":false,"hidden_act":"silu"}""",
            7_241_732_096, 32 * (8 * (4096 + 4096) + 8 * (4096 + 1024))
        },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Published_config_has_the_published_parameter_count_and_peft_s_lora_line(string name, string configJson, long total, long loraTrainable)
    {
        var config = ModelConfig.FromJson(JsonNode.Parse(configJson)!.AsObject(), name);
        using var model = ModelLoader.Build(config, META, ScalarType.BFloat16, WeightInit.Empty);
        Assert.Equal(total, model.named_parameters().Sum(p => p.parameter.NumberOfElements));

        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
        var lora = new JsonObject { ["r"] = 8, ["loraAlpha"] = 16 };
        if (config.FusedProjections) lora["targetModules"] = new JsonArray("qkv_proj");
        peft.AddAdapter("lora", lora);
        long all = total + loraTrainable;
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"trainable params: {loraTrainable:N0} || all params: {all:N0} || trainable%: {100.0 * loraTrainable / all:F4}"),
            peft.TrainableParametersLine());
    }
}
