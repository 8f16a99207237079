using System.Security.Cryptography;
using System.Text.Json.Nodes;
using PeftHost.Core.Peft;
using PeftHost.Core.Quantization;
using PeftHost.Plugins.AdaLora;
using PeftHost.Plugins.IA3;
using PeftHost.Plugins.Lora;
using PeftHost.Plugins.PrefixTuning;
using PeftHost.Plugins.PromptTuning;
using PeftHost.Quantization;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Methods;

/// <summary>
/// Pins the bytes every method saves (SHA-256 of <c>adapter_config.json</c> and <c>adapter_model.safetensors</c>) on a
/// seeded tiny model, as computed before the methods were moved onto the SDK's tuner base: restructuring a method must
/// not change a single saved byte. Two saves per method: right after injection (the initialisation, e.g. DoRA's
/// magnitude = ‖W‖, PiSSA-free LoRA's zero B), and after every saved tensor was filled with seeded values, loaded
/// into a fresh model and saved again (keys, shapes, dtypes and the load path).
/// </summary>
/// <remarks>Runs alone: injection draws from libtorch's global generator, which tests running beside it would also draw from.</remarks>
[Collection(SavedAdapterBytesCollection.Name)]
public sealed class SavedAdapterBytesTests
{
    /// <summary>Per case: the hashes of the saved config and weights after injection, then after seeded values and a reload.</summary>
    private static readonly Dictionary<string, string> Pinned = new(StringComparer.Ordinal)
    {
        ["lora_pattern_layers"] = "021ff718f9b00adb/a9053dd055697f39 021ff718f9b00adb/f264fcc5e9f7c451",
        ["qlora"] = "5974aa10830876bd/06557e071fbee8f7 5974aa10830876bd/e86815598760cd62",
        ["lora"] = "80f3fd1b456070da/77f603b467f39232 80f3fd1b456070da/8d904f71e56ac933",
        ["ia3"] = "e98b7a76b31a3e9e/fb6530164544e87c e98b7a76b31a3e9e/6f7bdd4428ed82e8",
        ["prompt_tuning"] = "990ce3c44431409a/d995433a30e4d326 990ce3c44431409a/c84fff5abc45c45c",
        ["rslora"] = "8e8412fe2521b1a7/ed79aeebc59c3484 8e8412fe2521b1a7/d88b4d47948a2160",
        ["prefix_tuning_projection"] = "09f8d8f42ee93787/8c5e8bdf844b864f 09f8d8f42ee93787/3941fd4e7df3bb2e",
        ["prefix_tuning"] = "9747294a430498c4/0625366dc7745a47 9747294a430498c4/1dd5818e4d9d3a0f",
        ["lora_modules_to_save"] = "069b1878caae043b/f7f84b3b29b0acf7 069b1878caae043b/e11e3e48ca5e0f56",
        ["adalora"] = "61f288aca8e424b6/ec15ff05f8be054c 61f288aca8e424b6/d4db0473b3c598c9",
        ["dora"] = "e6da655234ea6020/f2040c95afe683b0 e6da655234ea6020/3f02dc230240680a",
        ["p_tuning"] = "a3361e1007709a9d/aa13881a3a0eeccd a3361e1007709a9d/e6f4c8080eaa5971",
    };

    public static TheoryData<string> Cases() => [.. CaseOptions.Keys];

    private static readonly Dictionary<string, (string Method, string Options)> CaseOptions = new(StringComparer.Ordinal)
    {
        ["lora"] = ("lora", """{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj", "down_proj"]}"""),
        ["lora_modules_to_save"] = ("lora", """{"r": 2, "targetModules": ["k_proj"], "modulesToSave": ["lm_head"]}"""),
        ["lora_pattern_layers"] = ("lora", """{"r": 4, "targetModules": ["q_proj", "o_proj", "up_proj"], "layersToTransform": [1], "rankPattern": {"o_proj": 2}, "alphaPattern": {"up_proj": 3}}"""),
        ["dora"] = ("lora", """{"r": 4, "loraAlpha": 8, "useDora": true, "targetModules": ["q_proj", "o_proj"]}"""),
        ["rslora"] = ("lora", """{"r": 4, "loraAlpha": 16, "useRslora": true, "targetModules": ".*\\.mlp\\.(gate|up)_proj"}"""),
        ["qlora"] = ("lora", """{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj"]}"""),
        ["adalora"] = ("adalora", """{"initR": 6, "targetR": 2, "totalStep": 30, "tinit": 5, "tfinal": 5, "deltaT": 2, "loraAlpha": 8}"""),
        ["ia3"] = ("ia3", """{"targetModules": ["k_proj", "v_proj", "down_proj"], "feedforwardModules": ["down_proj"]}"""),
        ["prompt_tuning"] = ("prompt_tuning", """{"numVirtualTokens": 4}"""),
        ["p_tuning"] = ("p_tuning", """{"numVirtualTokens": 4, "encoderHiddenSize": 16}"""),
        ["prefix_tuning"] = ("prefix_tuning", """{"numVirtualTokens": 3}"""),
        ["prefix_tuning_projection"] = ("prefix_tuning", """{"numVirtualTokens": 3, "prefixProjection": true, "encoderHiddenSize": 16}"""),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Saved_adapter_bytes_do_not_change(string name)
    {
        var (method, options) = CaseOptions[name];
        using var dir = new TempDir();
        var peft = NewModel(name == "qlora");
        torch.manual_seed(17);
        peft.AddAdapter(method, JsonNode.Parse(options)!.AsObject());
        peft.SaveAdapter(dir["init"]);

        using (var generator = new Generator(23))
        using (no_grad())
        {
            var parameters = peft.Adapters.Single().Adapter.NamedParameters().OrderBy(p => p.Key, StringComparer.Ordinal);
            foreach (var (_, p) in parameters) p.copy_(randn(p.shape, generator: generator) * 0.1);
        }
        peft.SaveAdapter(dir["seeded"]);
        var reloaded = NewModel(name == "qlora");
        reloaded.LoadAdapter(dir["seeded"]);
        reloaded.SaveAdapter(dir["reloaded"]);

        string actual = Hashes(dir["init"]) + " " + Hashes(dir["seeded"]);
        Assert.Equal(Hashes(dir["seeded"]), Hashes(dir["reloaded"]));
        Assert.True(Pinned.TryGetValue(name, out var expected) && expected == actual,
            $"saved bytes of '{name}' changed: [\"{name}\"] = \"{actual}\",");
    }

    private static PeftModel NewModel(bool quantized)
    {
        var model = TinyModels.Create(seed: 1);
        if (quantized) ModelQuantizer.Quantize(model, new Nf4Quantizer(), new QuantizationOptions());
        return new PeftModel(model, new StaticMethodCatalog(
            new LoraMethod(), new AdaLoraMethod(), new IA3Method(), new PromptTuningMethod(), new PTuningMethod(), new PrefixTuningMethod()));
    }

    /// <summary>The first 16 hex digits of the SHA-256 of the saved config and weights, as "config/weights".</summary>
    private static string Hashes(string folder) =>
        Hash(Path.Combine(folder, AdapterFiles.ConfigFileName)) + "/" + Hash(Path.Combine(folder, AdapterFiles.WeightsFileName));

    private static string Hash(string file) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)))[..16];
}

/// <summary>Runs <see cref="SavedAdapterBytesTests"/> without other tests beside it (they share libtorch's global generator).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SavedAdapterBytesCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Saved adapter bytes";
}
