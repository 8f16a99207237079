using PeftHost.Sdk;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Tests.Peft;

/// <summary>
/// A plugin's module written on the SDK's <see cref="CanonicalModule"/> base has its children and parameters under the
/// names it registered them by, once: TorchSharp's registration of fields under their C# names is off, even for
/// fields that hold a registered child or parameter.
/// </summary>
public sealed class CanonicalModuleTests
{
    [Fact]
    public void Children_and_parameters_held_in_fields_are_registered_only_under_their_given_names()
    {
        using var wrapper = new Wrapper(nn.Linear(4, 3));
        using var parent = new Parent(wrapper);

        Assert.Equal(["wrapped", "wrapped.base_layer"], parent.named_modules().Select(m => m.name));
        Assert.Equal(["wrapped.scale", "wrapped.base_layer.weight", "wrapped.base_layer.bias"], parent.named_parameters().Select(p => p.name));
    }

    /// <summary>Holds its child and its parameter in fields, as a method's layer does.</summary>
    private sealed class Wrapper : CanonicalModule<Tensor, Tensor>
    {
        private readonly Linear _inner;
        private readonly Parameter _scale;

        public Wrapper(Linear inner) : base("Wrapper")
        {
            _inner = inner;
            _scale = new Parameter(ones(3));
            register_parameter("scale", _scale);
            register_module("base_layer", inner);
        }

        public override Tensor forward(Tensor x) => _inner.forward(x) * _scale;
    }

    private sealed class Parent : CanonicalModule
    {
        private readonly Wrapper _child;

        public Parent(Wrapper child) : base("Parent")
        {
            _child = child;
            register_module("wrapped", child);
        }
    }
}
