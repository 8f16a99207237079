using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using TorchSharp;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class ParameterCountTests
{
    private const string Llama2_7B = """
        {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
         "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000, "max_position_embeddings": 4096,
         "rms_norm_eps": 1e-5, "tie_word_embeddings": false}
        """;

    [Theory]
    [InlineData(false, 4_194_304L)]             // r·(in + out) = 8·(4096 + 4096) per module, 64 modules
    [InlineData(true, 4_194_304L + 64 * 4096L)] // + out per module for DoRA's magnitude
    public void Llama2_7BOnTheMetaDeviceMatchesPeftsCount(bool dora, long expectedTrainable)
    {
        using var model = ModelLoader.Build(ModelConfig.FromJson(JsonNode.Parse(Llama2_7B)!.AsObject()), torch.META, torch.ScalarType.Float16, WeightInit.Empty);
        long baseCount = model.named_parameters().Sum(p => p.parameter.NumberOfElements);
        Assert.Equal(6_738_415_616L, baseCount);

        var surface = new ModelSurface(model);
        var method = new LoraMethod();
        var config = method.BindConfig(ConfigSource.FromOptions(JsonNode.Parse(
            $$"""{"r": 8, "loraAlpha": 16, "targetModules": ["q_proj", "v_proj"], "useDora": {{(dora ? "true" : "false")}}}""")!.AsObject()));
        var adapter = (LoraAdapter)method.Inject(surface, "default", config);

        Assert.Equal(64, adapter.TargetPaths.Count);
        Assert.Equal(expectedTrainable, adapter.NamedParameters().Sum(p => p.Parameter.NumberOfElements));
        Assert.Equal(expectedTrainable, adapter.TrainableParameterCount);
        Assert.All(adapter.NamedParameters(), p => Assert.Equal(torch.ScalarType.Float16, p.Parameter.dtype));
    }

    [Fact]
    public void EachAdaptedLinearAddsRTimesInPlusOut()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""{"r": 4, "targetModules": "all-linear"}""");
        // Per layer: q 32→32, k 32→16, v 32→16, o 32→32, gate 32→64, up 32→64, down 64→32.
        long perLayer = 4 * ((32 + 32) + (32 + 16) + (32 + 16) + (32 + 32) + (32 + 64) + (32 + 64) + (64 + 32));
        Assert.Equal(2 * perLayer, adapter.TrainableParameterCount);
    }
}
