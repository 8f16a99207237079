using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>How a freshly built model's weights are filled.</summary>
public enum WeightInit
{
    /// <summary>Uninitialised memory: the caller loads a checkpoint next.</summary>
    Empty,

    /// <summary>Normal(0, initializer_range) weights, unit norms, zero biases (random configs for tests and benchmarks).</summary>
    Random,
}

/// <summary>Creates the parameters and leaf modules of a model on one device and dtype.</summary>
public sealed class ParameterFactory(Device device, ScalarType dtype, WeightInit init, double initializerRange = 0.02, long seed = 0)
{
    private readonly Generator? _generator = init == WeightInit.Random && device.type != DeviceType.META
        ? new Generator((ulong)seed, device) : null;

    /// <summary>The device parameters are created on.</summary>
    public Device Device => device;

    /// <summary>The dtype parameters are created in.</summary>
    public ScalarType Dtype => dtype;

    /// <summary>A weight matrix or embedding table.</summary>
    public Parameter Weight(params long[] shape)
    {
        var t = empty(shape, dtype, device);
        if (_generator is not null)
        {
            using var _ = no_grad();
            t.normal_(0, initializerRange, _generator);
        }
        return new Parameter(t, requires_grad: true);
    }

    /// <summary>A bias vector (zeros when initialising).</summary>
    public Parameter Bias(long size) => Filled(size, 0);

    /// <summary>A norm scale, initialised to <paramref name="identity"/>: 1, or 0 where the norm scales by (1 + weight).</summary>
    public Parameter NormScale(long size, double identity = 1) => Filled(size, identity);

    /// <summary>A linear layer y = xWᵀ (+ b) with weight [out, in].</summary>
    public Linear Linear(long inFeatures, long outFeatures, bool bias) =>
        nn.Linear(Weight(outFeatures, inFeatures), bias ? Bias(outFeatures) : null);

    private Parameter Filled(long size, double value)
    {
        using var fill = value.ToScalar();
        var t = init == WeightInit.Random || device.type == DeviceType.META
            ? full([size], fill, dtype, device)
            : empty([size], dtype, device);
        return new Parameter(t, requires_grad: true);
    }
}
