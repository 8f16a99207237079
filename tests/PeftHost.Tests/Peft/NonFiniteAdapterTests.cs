using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Peft;

/// <summary>An adapter holding NaN or infinite values is neither saved (its loader would refuse it) nor merged.</summary>
public sealed class NonFiniteAdapterTests
{
    [Fact]
    public void A_non_finite_adapter_is_not_saved_and_not_merged()
    {
        using var dir = new TempDir();
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var peft = new PeftModel(model, new StaticMethodCatalog(new LoraMethod()));
        {
            var adapter = peft.AddAdapter("lora", new JsonObject { ["r"] = 4, ["targetModules"] = new JsonArray("q_proj") }).Adapter;
            var b = adapter.NamedParameters().First(p => p.Key.Contains("lora_B")).Parameter;
            using (no_grad()) b[0, 0] = float.NaN;

            var save = Assert.Throws<InvalidOperationException>(() => peft.SaveAdapter(dir["adapter"]));
            Assert.Contains("adapter 'default' cannot be saved: tensor ", save.Message);
            Assert.Contains("holds 1 NaN or infinite value", save.Message);
            Assert.False(Directory.Exists(dir["adapter"]));

            var before = model.named_parameters().Where(p => !p.name.Contains("lora")).ToDictionary(p => p.name, p => p.parameter.detach().clone());
            var merge = Assert.Throws<InvalidOperationException>(() => peft.MergeAdapter());
            Assert.Contains("merging adapter 'default' would make the base weights non-finite: its ", merge.Message);
            Assert.False(adapter.IsMerged);
            foreach (var (name, parameter) in model.named_parameters().Where(p => !p.name.Contains("lora")))
                Assert.True(TensorAssert.Identical(before[name], parameter.detach()), name);
        }
    }
}
