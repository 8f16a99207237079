using PeftHost.Plugins.Lora;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class RemoveAndSaveModulesTests
{
    [Fact]
    public void RemoveRestoresTheOriginalModules()
    {
        using var f = new LoraFixture();
        var baseLogits = f.Logits();
        var originals = new[] { "model.layers.0.self_attn.q_proj", "model.layers.1.mlp.up_proj" }.ToDictionary(p => p, f.Surface.GetModule);
        var adapter = f.Inject("""{"r": 4, "targetModules": ["q_proj", "up_proj"]}""");
        LoraFixture.Randomize(adapter);
        Assert.IsType<LoraLayer>(f.Surface.GetModule("model.layers.0.self_attn.q_proj"));

        adapter.Remove();
        foreach (var (path, module) in originals) Assert.Same(module, f.Surface.GetModule(path));
        Assert.DoesNotContain(f.Surface.NamedModules(), m => m.Module is LoraLayer);
        Assert.True(LoraFixture.Exact(f.Logits(), baseLogits));
        Assert.Throws<InvalidOperationException>(() => adapter.NamedParameters().ToList());
    }

    [Fact]
    public void RemovingOneOfTwoAdaptersKeepsTheLayer()
    {
        using var f = new LoraFixture();
        var a = f.Inject("""{"r": 4, "targetModules": ["q_proj"]}""", "a");
        var b = f.Inject("""{"r": 2, "targetModules": ["q_proj", "v_proj"]}""", "b");
        a.Remove();
        var q = Assert.IsType<LoraLayer>(f.Surface.GetModule("model.layers.0.self_attn.q_proj"));
        Assert.Equal(["b"], q.AdapterNames);
        Assert.Equal(8, b.GetState().Count);
        // The name is free again.
        f.Inject("""{"r": 4, "targetModules": ["k_proj"]}""", "a");
    }

    [Fact]
    public void MergeAndUnloadKeepsTheMergedWeights()
    {
        using var f = new LoraFixture();
        var original = f.Surface.GetModule("model.layers.1.self_attn.v_proj");
        var adapter = f.Inject("""{"r": 4, "loraAlpha": 16, "targetModules": "all-linear", "modulesToSave": ["lm_head"]}""");
        LoraFixture.Randomize(adapter, 9, alsoA: true);
        var copy = adapter.SavedModules[0].Layer.Copy("default");
        using (no_grad()) ((Linear)copy).weight!.mul_(1.5);
        var adapted = f.Logits();

        adapter.Merge();
        adapter.Remove(keepMerged: true);
        Assert.Same(original, f.Surface.GetModule("model.layers.1.self_attn.v_proj"));
        Assert.Same(copy, f.Surface.GetModule("lm_head"));
        Assert.DoesNotContain(f.Surface.NamedModules(), m => m.Module is LoraLayer or ModulesToSaveLayer);
        Assert.True(LoraFixture.MaxDiff(f.Logits(), adapted) < 1e-5);
    }

    [Fact]
    public void ModulesToSaveCopiesRunWhileTheirAdapterIsActive()
    {
        using var f = new LoraFixture();
        var baseLogits = f.Logits();
        var originalHead = f.Surface.GetModule("lm_head");
        var adapter = f.Inject("""{"r": 4, "targetModules": ["q_proj"], "modulesToSave": ["lm_head", "embed_tokens"]}""");
        var head = Assert.IsType<ModulesToSaveLayer>(f.Surface.GetModule("lm_head"));
        Assert.Same(originalHead, head.Original);
        Assert.IsType<ModulesToSaveLayer>(f.Surface.GetModule("model.embed_tokens"));
        Assert.True(LoraFixture.Exact(f.Logits(), baseLogits), "fresh copies compute what the originals do");
        Assert.Contains(adapter.NamedParameters(), p => p.Key == "base_model.model.model.embed_tokens.weight");
        Assert.False(((Linear)originalHead).weight!.requires_grad);

        using (no_grad()) ((Linear)head.Copy("default")).weight!.add_(0.1);
        var changed = f.Logits();
        Assert.True(LoraFixture.MaxDiff(changed, baseLogits) > 1e-3);
        Assert.True(LoraFixture.Exact(f.BaseLogits(), baseLogits));
        f.Routing.ActiveAdapters = [];
        Assert.True(LoraFixture.Exact(f.Logits(), baseLogits));

        adapter.Remove();
        Assert.Same(originalHead, f.Surface.GetModule("lm_head"));
        Assert.Equal("TokenEmbedding", f.Surface.GetModule("model.embed_tokens").GetType().Name);
    }
}
