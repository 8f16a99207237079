using System.Globalization;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Families;

/// <summary>
/// <c>peft inspect</c> and <c>peft merge</c> on each family's saved tiny random model: inspect names the architecture,
/// counts its parameters and lists the block's family options; merging a LoRA adapter on every projection (Phi-3's
/// fused ones included) gives a model folder whose logits equal the unmerged adapter's.
/// </summary>
public sealed class FamilyCliTests
{
    public static TheoryData<string> Families => new(FamilyModels.Configs.Keys);

    /// <summary>Per family, what inspect's block line must list (the family's options as they are named there).</summary>
    private static readonly Dictionary<string, string[]> BlockOptions = new()
    {
        ["llama3"] = ["SwiGLU (silu)"],
        ["qwen2"] = ["SwiGLU (silu)", "q/k/v biases"],
        ["qwen3"] = ["SwiGLU (silu)", "q/k norm"],
        ["gemma2"] = ["GeGLU (gelu_pytorch_tanh)", "norms scale by 1 + weight", "embeddings × √hidden", "attention soft-cap 4", "final-logit soft-cap 6", $"sliding window {FamilyModels.Window} in 1 of 2 layers"],
        ["gemma3_text"] = ["GeGLU (gelu_pytorch_tanh)", "q/k norm", $"sliding window {FamilyModels.Window} in 5 of 6 layers", "sliding layers' rope theta 10000"],
        ["phi3"] = ["SwiGLU (silu)", "fused qkv_proj and gate_up_proj"],
        ["mistral"] = ["SwiGLU (silu)", $"sliding window {FamilyModels.Window} in 2 of 2 layers"],
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void Inspect_prints_the_family_s_architecture_parameters_and_block_options(string family)
    {
        using var dir = new TempDir();
        long parameters;
        using (var model = FamilyModels.Random(family))
        {
            FamilyModels.SaveFolder(model, dir.Path);
            parameters = model.parameters().Sum(p => p.NumberOfElements);
        }
        var config = FamilyModels.Config(family);
        var (code, output, error) = CliTests.Run("inspect", "--model", dir.Path);
        Assert.True(code == 0, error);
        Assert.Contains($"architecture:      {config.Architecture} ({config.ModelType})", output);
        Assert.Contains($"attention heads:   {config.NumAttentionHeads} query, {config.NumKeyValueHeads} key/value, head dim {config.HeadDim}", output);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"parameters:        {parameters:N0}"), output);
        string block = output.Split('\n').Single(l => l.StartsWith("block:", StringComparison.Ordinal));
        foreach (var option in BlockOptions[family]) Assert.Contains(option, block);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Merge_of_a_lora_adapter_gives_the_logits_of_the_unmerged_adapter(string family)
    {
        using var dir = new TempDir();
        string baseDir = dir["base"], adapterDir = dir["adapter"], mergedDir = dir["merged"];
        using var ids = tensor(new long[] { 5, 99, 301, 7, 42, 250, 18, 77, 460, 3, 64, 128 }).unsqueeze(0);
        Tensor unmerged;
        using (var model = FamilyModels.Random(family))
        {
            FamilyModels.SaveFolder(model, baseDir);
            var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
            string[] targets = model.Config.FusedProjections
                ? ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
                : ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
            var adapter = peft.AddAdapter("lora", new JsonObject
            {
                ["r"] = 4, ["loraAlpha"] = 8, ["targetModules"] = new JsonArray(targets.Select(t => (JsonNode)t).ToArray()),
            }).Adapter;
            using (no_grad())
            {
                // lora_B starts at zero; a non-zero one makes the merge change every adapted weight.
                using var g = new Generator(3);
                foreach (var (_, p) in adapter.NamedParameters()) p.copy_(randn(p.shape, generator: g) * 0.1);
                unmerged = model.Forward(ids);
            }
            peft.SaveAdapter(adapterDir);
        }
        using (unmerged)
        {
            var (code, output, error) = CliTests.Run("merge", "--model", baseDir, "--adapter", adapterDir, "--out", mergedDir);
            Assert.True(code == 0, error);
            Assert.Contains("merged", output);
            using var merged = ModelLoader.Load(mergedDir);
            Assert.Equal(FamilyModels.Config(family).Architecture, merged.Config.Architecture);
            using var _ = no_grad();
            using var logits = merged.Forward(ids);
            double diff = (logits - unmerged).abs().max().item<float>(), scale = unmerged.abs().max().item<float>();
            Assert.True(diff < 1e-4 * scale, $"{family}: merged logits differ from the unmerged adapter's by {diff:E2} (largest logit {scale:F2})");
        }
    }
}
