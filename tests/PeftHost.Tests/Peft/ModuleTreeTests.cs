using PeftHost.Core.Models;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using PeftHost.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Tests.Peft;

/// <summary>
/// What methods see of a model lists each module once, under its Hugging Face path, even when a module (here a
/// plugin's wrapper that leaves TorchSharp's field auto-registration on) registers a child a second time under its
/// C# field name.
/// </summary>
public sealed class ModuleTreeTests
{
    private const string QProj = "model.layers.0.self_attn.q_proj";

    [Fact]
    public void A_child_registered_again_under_its_field_name_is_listed_once_under_its_registered_name()
    {
        using var model = TinyModels.Create();
        var surface = new ModelSurface(model);
        var linear = (Linear)surface.GetModule(QProj);
        surface.ReplaceModule(QProj, new FieldAliasingWrapper(linear));
        Assert.Contains(model.named_modules(), m => m.name == QProj + "._inner"); // TorchSharp's alias is there

        var paths = surface.NamedModules().Where(m => ReferenceEquals(m.Module, linear)).Select(m => m.Path);
        Assert.Equal([QProj + ".inner"], paths);
        Assert.Equal(surface.NamedModules().Count(), surface.NamedModules().Select(m => m.Module).Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.DoesNotContain(TargetModuleMatcher.Candidates(surface), m => m.Path.Contains("._inner", StringComparison.Ordinal));
    }

    /// <summary>Registers its child as <c>inner</c> and keeps TorchSharp's auto-registration, which adds <c>_inner</c>.</summary>
    private sealed class FieldAliasingWrapper : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> _inner;

        public FieldAliasingWrapper(nn.Module<Tensor, Tensor> inner) : base("FieldAliasingWrapper")
        {
            _inner = inner;
            register_module("inner", inner);
        }

        public override Tensor forward(Tensor x) => _inner.forward(x);
    }
}
