using PeftHost.Core.Models;
using PeftHost.Core.Runtime;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>What <see cref="ModelQuantizer.Quantize"/> did.</summary>
/// <param name="Quantizer">The scheme (nf4, fp4, int8).</param>
/// <param name="Options">Block size, double quantization, compute dtype.</param>
/// <param name="Paths">The layers replaced, in model order.</param>
/// <param name="Skipped">Linear layers left in full precision (the output layer and any asked for).</param>
public sealed record ModelQuantizationResult(string Quantizer, QuantizationOptions Options, IReadOnlyList<string> Paths, IReadOnlyList<string> Skipped);

/// <summary>
/// Quantizes a model's linear layers in place, as transformers does with bitsandbytes: every
/// <see cref="Linear"/> except the output layer (<c>lm_head</c>) and any named in
/// <c>skipModules</c> becomes the quantizer's layer, put in place through
/// <see cref="ModelSurface.ReplaceModule"/>; the full-precision weight is released layer by layer.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>The output layer, never quantized.</summary>
    public const string OutputLayer = "lm_head";

    /// <summary>Quantizes <paramref name="model"/>'s linear layers with <paramref name="quantizer"/>.</summary>
    /// <param name="model">The model, changed in place.</param>
    /// <param name="quantizer">The scheme.</param>
    /// <param name="options">Block size, double quantization, compute dtype.</param>
    /// <param name="skipModules">Module names (last path segment or full path) to keep in full precision, besides lm_head.</param>
    /// <param name="materialize">
    /// Called with each layer just before it is quantized — a streaming loader fills the weight
    /// here, so only one full-precision layer is resident at a time.
    /// </param>
    public static ModelQuantizationResult Quantize(CausalLanguageModel model, IQuantizer quantizer, QuantizationOptions options,
        IEnumerable<string>? skipModules = null, Action<string, Linear>? materialize = null)
    {
        var skip = new HashSet<string>(skipModules ?? [], StringComparer.Ordinal) { OutputLayer };
        var surface = new ModelSurface(model);
        var linears = LinearPaths(surface);
        var done = new List<string>();
        var skipped = new List<string>();
        foreach (var path in linears)
        {
            string name = path[(path.LastIndexOf('.') + 1)..];
            if (skip.Contains(name) || skip.Contains(path)) { skipped.Add(path); continue; }
            var linear = (Linear)surface.GetModule(path);
            materialize?.Invoke(path, linear);
            QuantizedTensor quantized;
            // The detached view shares the weight's storage: dispose it too, or the full-precision
            // weight stays resident until a finalizer runs (the whole model, on a large base).
            using (no_grad())
            using (var weight = linear.weight!.detach())
                quantized = quantizer.Quantize(weight, options);
            var bias = linear.bias;
            var replacement = quantizer.CreateLinear(quantized, bias, options.ComputeDtype);
            surface.ReplaceModule(path, replacement);
            linear.weight!.Dispose();
            done.Add(path);
        }
        if (BnbQuantizationConfig.IsBitsandbytesType(quantizer.Name))
            QuantizedLayers.SetConfig(model, BnbQuantizationConfig.From(quantizer.Name, options));
        // Thousands of small per-chunk temporaries went through the C heap; hand its free pages back.
        NativeRuntime.ReleaseFreeHeap();
        return new ModelQuantizationResult(quantizer.Name, options, done, skipped);
    }

    /// <summary>The model's replaceable linear layers, each once, under its canonical path (<see cref="ModuleTree.Canonical"/>).</summary>
    public static List<string> LinearPaths(ModelSurface surface) =>
        surface.NamedModules().Where(m => m.Path.Length > 0 && m.Module is Linear).Select(m => m.Path).ToList();
}
