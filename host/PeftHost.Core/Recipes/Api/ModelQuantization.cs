using PeftHost.Core.Models;
using PeftHost.Sdk;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// Replaces a model's decoder linear layers (attention and MLP projections; embeddings, norms and
/// the LM head stay in full precision, as bitsandbytes' LLaMA loading does) with a quantizer
/// plugin's layers.
/// </summary>
internal static class ModelQuantization
{
    /// <summary>Quantizes every plain linear layer under <c>model.layers</c>; returns how many were replaced.</summary>
    public static int Apply(CausalLanguageModel model, IQuantizer quantizer, QuantizationOptions options, CancellationToken cancellation)
    {
        var surface = new ModelSurface(model);
        var targets = surface.NamedModules()
            .Where(m => m.Path.StartsWith("model.layers.", StringComparison.Ordinal) && m.Module is Linear)
            .Select(m => (m.Path, Linear: (Linear)m.Module))
            .ToList();
        using var _ = no_grad();
        foreach (var (path, linear) in targets)
        {
            cancellation.ThrowIfCancellationRequested();
            var quantized = quantizer.Quantize(linear.weight!.detach(), options);
            var bias = linear.bias?.detach().clone();
            var layer = quantizer.CreateLinear(quantized, bias, options.ComputeDtype);
            surface.ReplaceModule(path, layer);
            linear.Dispose();
        }
        return targets.Count;
    }
}
