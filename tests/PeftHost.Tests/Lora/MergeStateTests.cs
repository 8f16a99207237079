namespace PeftHost.Tests.Lora;

/// <summary>An adapter's IsMerged means the same for LoRA as for every SDK tuner: merged on every layer that holds it.</summary>
public sealed class MergeStateTests
{
    [Fact]
    public void A_lora_adapter_merged_on_some_of_its_layers_is_not_merged()
    {
        using var f = new LoraFixture();
        var adapter = f.Inject("""{"r": 2, "target_modules": ["q_proj", "v_proj"]}""");
        LoraFixture.Randomize(adapter);

        adapter.Layers[0].Layer.Merge(adapter.Name);
        Assert.True(adapter.Layers[0].Layer.IsMerged(adapter.Name));
        Assert.False(adapter.IsMerged);

        adapter.Merge();
        Assert.True(adapter.IsMerged);
        adapter.Unmerge();
        Assert.False(adapter.IsMerged);
        Assert.All(adapter.Layers, l => Assert.Empty(l.Layer.MergedAdapters));
    }
}
