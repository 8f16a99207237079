using System.Text.Json.Nodes;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Support;
using TorchSharp;
using static PeftHost.Tests.Methods.MethodTestSupport;
using static TorchSharp.torch;

namespace PeftHost.Tests.Methods;

/// <summary>Adapters of every method, saved here and used by the CLI through the built plugins (collectible load contexts).</summary>
public sealed class MethodCliTests
{
    public static TheoryData<string, string> Methods() => new()
    {
        { "adalora", """{"initR": 4, "targetR": 2, "totalStep": 10}""" },
        { "ia3", "{}" },
        { "prefix_tuning", """{"numVirtualTokens": 4}""" },
        { "prompt_tuning", """{"numVirtualTokens": 4, "promptTuningInit": "TEXT", "promptTuningInitText": "The dog"}""" },
        { "p_tuning", """{"numVirtualTokens": 4, "encoderHiddenSize": 32}""" },
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void Eval_and_generate_use_a_saved_adapter(string method, string options)
    {
        using var dir = new TempDir();
        var (model, peft, _) = Stories();
        using (model)
        {
            manual_seed(41);
            var adapter = peft.AddAdapter(method, (JsonObject)JsonNode.Parse(options)!).Adapter;
            using (no_grad())
                foreach (var (key, p) in adapter.NamedParameters())
                    if (key.EndsWith("lora_E") || key.EndsWith("ia3_l")) p.copy_(rand_like(p) + 0.5);
            peft.SaveAdapter(dir["adapter"]);
        }
        File.WriteAllText(dir["text.txt"], Story);
        var plain = CliTests.Run("eval", "--model", TestPaths.Stories260k, "--text-file", dir["text.txt"]);
        var adapted = CliTests.Run("eval", "--model", TestPaths.Stories260k, "--adapter", dir["adapter"], "--text-file", dir["text.txt"]);
        Assert.True(adapted.Code == 0, adapted.Err);
        Assert.NotEqual(plain.Out, adapted.Out);
        var generated = CliTests.Run("generate", "-m", TestPaths.Stories260k, "-a", dir["adapter"], "-p", "Once upon a time", "-t", "0", "-n", "16");
        Assert.True(generated.Code == 0, generated.Err);
        Assert.False(string.IsNullOrWhiteSpace(generated.Out));
    }
}
