using System.Text.Json.Nodes;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Checkpoints;

public sealed class ModelCheckpointTests
{
    [Fact]
    public void Sharded_save_loads_back_identically()
    {
        using var dir = new TempDir();
        using var model = TinyModels.Create();
        ModelLoader.Save(model, dir.Path, maxShardBytes: 16 * 1024);
        Assert.True(File.Exists(dir[CheckpointReader.IndexFileName]));
        Assert.False(File.Exists(dir[CheckpointReader.SingleFileName]));
        Assert.True(Directory.GetFiles(dir.Path, "model-*-of-*.safetensors").Length > 1);
        var index = JsonNode.Parse(File.ReadAllText(dir[CheckpointReader.IndexFileName]))!;
        Assert.Equal(model.named_parameters().Count(), index["weight_map"]!.AsObject().Count);

        using var loaded = ModelLoader.Load(dir.Path);
        using var ids = TinyModels.Tokens(1, 8);
        using var _ = inference_mode();
        Assert.True(TensorAssert.Identical(model.Forward(ids), loaded.Forward(ids)));

        // Saving again unsharded replaces the shards rather than leaving stale files beside.
        ModelLoader.Save(model, dir.Path);
        Assert.True(File.Exists(dir[CheckpointReader.SingleFileName]));
        Assert.Empty(Directory.GetFiles(dir.Path, "model-*-of-*.safetensors"));
    }

    [Fact]
    public void Saving_in_bf16_and_loading_in_fp32_gives_the_rounded_weights()
    {
        using var dir = new TempDir();
        using var model = TinyModels.Create();
        ModelLoader.Save(model, dir.Path, ScalarType.BFloat16);
        Assert.Equal("bfloat16", JsonNode.Parse(File.ReadAllText(dir["config.json"]))!["torch_dtype"]!.GetValue<string>());
        using var loaded = ModelLoader.Load(dir.Path, ScalarType.Float32);
        var original = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in loaded.named_parameters())
            Assert.True(TensorAssert.Identical(p, original[name].to(ScalarType.BFloat16).to(ScalarType.Float32)), name);
        using var asBf16 = ModelLoader.Load(dir.Path, ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, asBf16.named_parameters().First().parameter.dtype);
    }

    [Fact]
    public void Missing_unexpected_and_misshaped_tensors_are_named_with_both_shapes()
    {
        using var dir = new TempDir();
        using var model = TinyModels.Create();
        var state = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach());
        state.Remove("model.norm.weight");
        state["model.layers.0.mlp.up_proj.weight"] = zeros(63, 32);
        state["model.extra.weight"] = zeros(2);
        CheckpointWriter.Write(dir.Path, state.ToList());
        File.WriteAllText(dir["config.json"], model.Config.ToJson().ToJsonString());
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("missing tensor 'model.norm.weight' (expected shape [32])", e.Message);
        Assert.Contains("tensor 'model.layers.0.mlp.up_proj.weight' has shape [63, 32] in the checkpoint but the model expects [64, 32]", e.Message);
        Assert.Contains("unexpected tensor 'model.extra.weight'", e.Message);
    }

    [Fact]
    public void Index_pointing_outside_the_folder_is_refused()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir[CheckpointReader.IndexFileName], """{"weight_map":{"w":"../secret.safetensors"}}""");
        var e = Assert.Throws<ModelFormatException>(() => CheckpointReader.Open(dir.Path));
        Assert.Contains("not a shard file name", e.Message);
    }

    [Fact]
    public void A_folder_with_only_config_json_builds_on_the_meta_device()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["config.json"], Models.ModelConfigTests.Llama2_7B().ToJsonString());
        using var model = ModelLoader.Load(dir.Path, ScalarType.Float16, META);
        Assert.Equal(6_738_415_616, model.named_parameters().Sum(p => p.parameter.NumberOfElements));
        Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.Path));
    }
}
