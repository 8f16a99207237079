using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Plugins.Lora;

/// <summary>
/// DoRA (weight-decomposed LoRA) as a LoRA variant, PEFT's <c>DoraLinearVariant</c>: a learned magnitude m [out]
/// (<c>lora_magnitude_vector.{adapter}.weight</c>, initialised to ‖W + scaling·B·A‖ per output row) rescales the
/// adapted weight, W' = (m/‖W + ΔW‖)·(W + ΔW). The merge norm is kept so the merge can be undone exactly.
/// </summary>
internal sealed class DoraVariant : ILoraVariant
{
    private Tensor? _mergeNorm;

    /// <inheritdoc />
    public string Name => "DoRA";

    /// <inheritdoc />
    public void Init(LoraLayer layer, string adapter, LoraAdapterSettings settings, Parameter a, Parameter b, ScalarType dtype, bool trainable)
    {
        var magnitude = new Parameter(a.device.type == DeviceType.META
            ? empty([layer.OutFeatures], dtype, a.device)
            : WeightNorm(layer, a, b, settings.Scaling, dtype), trainable);
        layer.MagnitudeVectors.Add(adapter, new DoraMagnitude(magnitude));
    }

    /// <inheritdoc />
    public Tensor Merge(LoraLayer layer, string adapter, Tensor weight, Tensor delta)
    {
        var sum = weight.Plus(delta);
        var norm = linalg.norm(sum, 2.0, [1]);
        var factor = layer.Magnitude(adapter)!.detach().to(ScalarType.Float32) / norm;
        _mergeNorm?.Dispose();
        _mergeNorm = norm.MoveToOuterDisposeScope();
        return factor.view(-1, 1) * sum;
    }

    /// <inheritdoc />
    public Tensor Unmerge(LoraLayer layer, string adapter, Tensor merged, Tensor delta)
    {
        using var norm = _mergeNorm!;
        _mergeNorm = null;
        var factor = layer.Magnitude(adapter)!.detach().to(ScalarType.Float32) / norm.to(merged.device);
        return merged / factor.view(-1, 1) - delta;
    }

    /// <inheritdoc />
    /// <remarks>
    /// With g = m/‖W + scaling·B·A‖ (the norm detached): (g − 1)·W·dropout(x) + g·scaling·B·A·dropout(x).
    /// Without dropout, W·x is the base result minus its bias.
    /// </remarks>
    public Tensor Forward(LoraLayer layer, string adapter, LoraAdapterSettings settings, Tensor x, Tensor baseResult)
    {
        var (a, b) = layer.AdapterWeights(adapter, x.dtype);
        bool dropping = settings.Dropout > 0 && layer.training;
        var dropped = dropping ? F.dropout(x, settings.Dropout, true) : x;
        var loraResult = F.linear(F.linear(dropped, a), b);
        Tensor weightNorm, weight;
        using (no_grad())
        {
            weight = layer.BaseWeight(x.dtype);
            var loraWeight = b.detach().matmul(a.detach());
            weightNorm = linalg.norm(weight.Plus(loraWeight.Times(settings.Scaling)), 2.0, [1]);
        }
        var magnitude = layer.Magnitude(adapter)!;
        var scale = ((magnitude.dtype == x.dtype ? magnitude : magnitude.to(x.dtype)) / weightNorm).view(1, -1);
        Tensor baseTerm;
        if (dropping) baseTerm = F.linear(dropped, weight);
        else
        {
            var bias = layer.BaseLayer is Linear l ? l.bias : ((ILinearLayer)layer.BaseLayer).Bias;
            baseTerm = bias is null ? baseResult : baseResult - bias;
            if (baseTerm.dtype != x.dtype) baseTerm = baseTerm.to(x.dtype);
        }
        return (scale.Minus(1) * baseTerm).Plus((scale * loraResult).Times(settings.Scaling));
    }

    /// <inheritdoc />
    public void Drop(LoraLayer layer, string adapter)
    {
        _mergeNorm?.Dispose();
        _mergeNorm = null;
        layer.MagnitudeVectors.Remove(adapter)?.Dispose();
    }

    /// <summary>‖W + scaling·B·A‖ per output row, in <paramref name="dtype"/> (the magnitude at creation).</summary>
    private static Tensor WeightNorm(LoraLayer layer, Tensor a, Tensor b, double scaling, ScalarType dtype)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = LinearLayers.ReadWeight(layer.BaseLayer, ScalarType.Float32);
        var lora = b.detach().to(ScalarType.Float32).matmul(a.detach().to(ScalarType.Float32));
        return linalg.norm(w.Plus(lora.Times(scaling)), 2.0, [1]).to(dtype).MoveToOuterDisposeScope();
    }
}
