using System.Globalization;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>The output difference a re-quantizing merge caused on one layer.</summary>
/// <param name="Path">The layer.</param>
/// <param name="RelativeDifference">‖y_merged − y_adapter‖ / ‖y_adapter‖ on the probe input.</param>
public sealed record LayerMergeError(string Path, double RelativeDifference);

/// <summary>What merging into a quantized base did.</summary>
/// <param name="Layers">Per quantized layer, the measured output difference.</param>
/// <param name="Warning">The warning issued (null when no quantized layer was involved).</param>
public sealed record QuantizedMergeReport(IReadOnlyList<LayerMergeError> Layers, string? Warning)
{
    /// <summary>The largest relative difference.</summary>
    public double MaxRelativeDifference => Layers.Count == 0 ? 0 : Layers.Max(l => l.RelativeDifference);

    /// <summary>The mean relative difference.</summary>
    public double MeanRelativeDifference => Layers.Count == 0 ? 0 : Layers.Average(l => l.RelativeDifference);
}

/// <summary>
/// Merging adapters into a quantized base. Either dequantize, merge and re-quantize (the adapter's
/// update is then rounded to the 4-bit grid: the output difference is measured on a probe input and
/// reported in a warning), or export a full-precision merged model, which loses nothing.
/// </summary>
public static class QuantizedMerge
{
    private const string BaseLayer = ".base_layer";

    /// <summary>
    /// Merges the active adapters into the quantized base and unloads them (PEFT's
    /// <c>merge_and_unload</c>): each adapted quantized layer is dequantized, merged and re-quantized
    /// by its own <c>WriteWeight</c>. Before and after, every such layer is run on a fixed random
    /// probe input; the relative output difference is reported through <paramref name="warn"/>.
    /// </summary>
    public static (CausalLanguageModel Model, QuantizedMergeReport Report) MergeAndUnload(PeftModel peft, Action<string>? warn = null, int probeRows = 16, long seed = 0)
    {
        var paths = AdaptedQuantizedLayers(peft.Base);
        var probes = new Dictionary<string, (Tensor Input, Tensor Expected)>();
        try
        {
            using (no_grad())
            {
                foreach (var path in paths)
                {
                    var module = (nn.Module<Tensor, Tensor>)peft.Surface.GetModule(path);
                    var (inFeatures, _) = LinearLayers.Features(peft.Surface.GetModule(path + BaseLayer));
                    using var g = new Generator((ulong)(seed + path.GetHashCode(StringComparison.Ordinal) & 0x7fffffff), peft.Base.Device);
                    var x = randn([probeRows, inFeatures], ScalarType.Float32, peft.Base.Device, generator: g).DetachFromDisposeScope();
                    var y = Eval(module, x).DetachFromDisposeScope();
                    probes[path] = (x, y);
                }
            }
            var model = peft.MergeAndUnload();
            var layers = new List<LayerMergeError>();
            using (no_grad())
            {
                foreach (var path in paths)
                {
                    var (x, expected) = probes[path];
                    using var y = Eval((nn.Module<Tensor, Tensor>)peft.Surface.GetModule(path), x);
                    using var diff = (y - expected).norm();
                    using var reference = expected.norm();
                    layers.Add(new LayerMergeError(path, diff.item<float>() / Math.Max(reference.item<float>(), 1e-30)));
                }
            }
            string? warning = null;
            if (layers.Count > 0)
            {
                var worst = layers.MaxBy(l => l.RelativeDifference)!;
                double mean = layers.Average(l => l.RelativeDifference);
                warning = string.Create(CultureInfo.InvariantCulture,
                    $"merged adapters into a quantized base: {layers.Count} layers were re-quantized, so the merged weights are rounded to the quantization grid; output difference on a probe input: max {worst.RelativeDifference:P2} ({worst.Path}), mean {mean:P2}. Export a full-precision merged model to keep the adapters exactly.");
                warn?.Invoke(warning);
            }
            return (model, new QuantizedMergeReport(layers, warning));
        }
        finally
        {
            foreach (var (x, y) in probes.Values) { x.Dispose(); y.Dispose(); }
        }
    }

    /// <summary>
    /// Writes the adapted model as a plain full-precision model in <paramref name="directory"/>
    /// (Hugging Face layout, no quantization_config): every linear layer's effective weight — the
    /// dequantized base plus whatever the adapters add — is read off the layer itself by running it
    /// on the identity (its output minus its bias, transposed), so any per-layer linear adapter
    /// merges exactly, in float32. The PEFT model is left unchanged.
    /// </summary>
    public static void ExportMergedFullPrecision(PeftModel peft, string directory, ScalarType dtype = ScalarType.Float32, int chunk = 1024)
    {
        var source = peft.Base;
        var raw = (System.Text.Json.Nodes.JsonObject)source.Config.Raw.DeepClone();
        raw.Remove(BnbQuantizationConfig.Key);
        var config = source.Config with { Raw = raw };
        using var plain = ModelLoader.Build(config, CPU, ScalarType.Float32, WeightInit.Empty);
        var plainSurface = new ModelSurface(plain);
        using (no_grad())
        {
            var sourceParameters = source.named_parameters().ToDictionary(p => p.name.Replace(BaseLayer, ""), p => p.parameter);
            foreach (var path in ModelQuantizer.LinearPaths(plainSurface))
            {
                var target = (Linear)plainSurface.GetModule(path);
                var adapted = (nn.Module<Tensor, Tensor>)peft.Surface.GetModule(path);
                using var weight = EffectiveWeight(adapted, target.weight!.shape[1], chunk, peft.Base.Device);
                target.weight!.copy_(weight);
                if (target.bias is not null) target.bias.copy_(BaseBias(peft.Surface, path)!);
            }
            var linearPrefixes = ModelQuantizer.LinearPaths(plainSurface).Select(p => p + ".").ToArray();
            foreach (var (name, p) in plain.named_parameters())
            {
                if (linearPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal))) continue;
                if (!sourceParameters.TryGetValue(name, out var from))
                    throw new InvalidOperationException($"the adapted model has no parameter '{name}' to export");
                p.copy_(from);
            }
        }
        ModelLoader.Save(plain, directory, dtype);
    }

    /// <summary>Paths of the model-visible modules that wrap a quantized layer (PEFT's <c>base_layer</c> convention).</summary>
    public static IReadOnlyList<string> AdaptedQuantizedLayers(nn.Module model) =>
        QuantizedLayers.Find(model)
            .Where(q => q.Path.EndsWith(BaseLayer, StringComparison.Ordinal))
            .Select(q => q.Path[..^BaseLayer.Length])
            .ToList();

    private static Tensor Eval(nn.Module<Tensor, Tensor> module, Tensor x)
    {
        bool wasTraining = module.training;
        module.eval();
        try { return module.forward(x).to(ScalarType.Float32); }
        finally { if (wasTraining) module.train(); }
    }

    /// <summary>W_eff [out, in] = (layer(I) − b)ᵀ, computed over the identity in chunks of rows.</summary>
    private static Tensor EffectiveWeight(nn.Module<Tensor, Tensor> layer, long inFeatures, int chunk, Device device)
    {
        using var scope = NewDisposeScope();
        var zero = Eval(layer, zeros(1, inFeatures, ScalarType.Float32, device)); // the bias (or zeros)
        var columns = new List<Tensor>();
        for (long start = 0; start < inFeatures; start += chunk)
        {
            long n = Math.Min(chunk, inFeatures - start);
            var identity = zeros(n, inFeatures, ScalarType.Float32, device);
            identity.narrow(1, start, n).copy_(eye(n, dtype: ScalarType.Float32, device: device));
            columns.Add(Eval(layer, identity) - zero); // [n, out]: rows start..start+n of Wᵀ
        }
        return cat(columns, 0).t().contiguous().cpu().MoveToOuterDisposeScope();
    }

    private static Tensor? BaseBias(ModelSurface surface, string path)
    {
        var module = surface.GetModule(path);
        var baseModule = module.named_children().FirstOrDefault(c => c.name == "base_layer").module ?? module;
        return baseModule switch
        {
            Linear l => l.bias,
            ILinearLayer q => q.Bias,
            _ => null,
        };
    }
}
