using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace PeftHost.Tests.Lora;

public sealed class MixedBatchTests
{
    [Fact]
    public void EachRowMatchesASingleAdapterRun()
    {
        using var f = new LoraFixture();
        var a = f.Inject("""{"r": 4, "loraAlpha": 8, "targetModules": ["q_proj", "v_proj", "down_proj"]}""", "a");
        var b = f.Inject("""{"r": 2, "loraAlpha": 4, "targetModules": ["q_proj", "o_proj"], "modulesToSave": ["lm_head"]}""", "b");
        LoraFixture.Randomize(a, 1, alsoA: true);
        LoraFixture.Randomize(b, 2, alsoA: true);
        using (no_grad()) b.SavedModules[0].Layer.Copy("b").parameters().First().add_(0.05);

        f.Routing.ActiveAdapters = ["a"];
        var onlyA = f.Logits();
        f.Routing.ActiveAdapters = ["b"];
        var onlyB = f.Logits();
        var baseLogits = f.BaseLogits();

        string[] rows = ["a", IAdapterRouting.BaseModelName, "b", "a"];
        f.Routing.RowAdapterNames = rows;
        var mixed = f.Logits();
        f.Routing.RowAdapterNames = null;

        var expected = new[] { onlyA, baseLogits, onlyB, onlyA };
        for (int i = 0; i < rows.Length; i++)
        {
            double diff = LoraFixture.MaxDiff(mixed[i], expected[i][i]);
            Assert.True(diff < 1e-5, $"row {i} ({rows[i]}) differs by {diff}");
        }
        Assert.True(LoraFixture.MaxDiff(onlyA, onlyB) > 1e-3, "the two adapters should differ");
    }

    [Fact]
    public void MixedBatchesRefuseMergedAndDoraAdapters()
    {
        using var f = new LoraFixture();
        var a = f.Inject("""{"r": 4, "targetModules": ["q_proj"]}""", "a");
        a.Merge();
        f.Routing.RowAdapterNames = ["a", "a", "a", "a"];
        Assert.Throws<InvalidOperationException>(() => f.Logits());
        a.Unmerge();
        Assert.Equal(4, f.Logits().shape[0]);

        f.Inject("""{"r": 4, "targetModules": ["v_proj"], "useDora": true}""", "d");
        f.Routing.RowAdapterNames = ["d", "a", "a", "a"];
        Assert.Throws<InvalidOperationException>(() => f.Logits());
        f.Routing.RowAdapterNames = ["a", "a"];
        Assert.Throws<ArgumentException>(() => f.Logits());
    }
}
