using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// A <see cref="PerAdapterTunerLayer{TSettings}"/> whose adapters each add a weight delta ΔW to the base
/// weight (rank, scaling, dropout… in <typeparamref name="TSettings"/>), as LoRA's and AdaLoRA's do.
/// </summary>
/// <typeparam name="TSettings">The per-adapter settings.</typeparam>
public abstract class LinearTunerLayer<TSettings> : PerAdapterTunerLayer<TSettings>
{
    /// <inheritdoc cref="LinearTunerLayer(string, string, nn.Module, IAdapterRouting)" />
    protected LinearTunerLayer(string name, string methodName, nn.Module baseLayer, IAdapterRouting routing)
        : base(name, methodName, baseLayer, routing) { }

    /// <summary>ΔW [out, in] of <paramref name="adapter"/> in float32 (PEFT's <c>get_delta_weight</c>), computed without autograd.</summary>
    /// <exception cref="KeyNotFoundException">The adapter is not on this layer.</exception>
    public Tensor DeltaWeight(string adapter)
    {
        var settings = Settings(adapter);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return ComputeDeltaWeight(adapter, settings).MoveToOuterDisposeScope();
    }

    /// <summary>ΔW [out, in] of <paramref name="adapter"/> in float32; runs inside <see cref="DeltaWeight"/>'s no-grad dispose scope.</summary>
    protected abstract Tensor ComputeDeltaWeight(string adapter, TSettings settings);
}
