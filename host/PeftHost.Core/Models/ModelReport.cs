using System.Globalization;
using System.Text;
using PeftHost.Core.Runtime;

namespace PeftHost.Core.Models;

/// <summary>A model's architecture and size, as <c>peft inspect</c> prints it.</summary>
/// <param name="Config">The model's config.</param>
/// <param name="Parameters">Total parameters.</param>
/// <param name="WeightBytes">Bytes the weights take.</param>
/// <param name="Dtype">Weight dtype name.</param>
/// <param name="Components">Parameters by component (embeddings, attention, mlp, norms, lm_head).</param>
public sealed record ModelReport(ModelConfig Config, long Parameters, long WeightBytes, string Dtype, IReadOnlyList<(string Name, long Parameters, long Bytes)> Components)
{
    /// <summary>Measures <paramref name="model"/> (works on the meta device).</summary>
    public static ModelReport Of(CausalLanguageModel model)
    {
        var byComponent = new SortedDictionary<string, (long Params, long Bytes)>(StringComparer.Ordinal);
        long total = 0, bytes = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            long n = p.NumberOfElements, b = n * p.ElementSize;
            total += n; bytes += b;
            string component = Component(name);
            var current = byComponent.GetValueOrDefault(component);
            byComponent[component] = (current.Params + n, current.Bytes + b);
        }
        return new ModelReport(model.Config, total, bytes, DeviceSelector.DtypeName(model.Dtype),
            byComponent.Select(kv => (kv.Key, kv.Value.Params, kv.Value.Bytes)).ToList());
    }

    /// <summary>The report as aligned text lines.</summary>
    public string Format()
    {
        var c = Config;
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"architecture:      {c.Architecture} ({c.ModelType})");
        sb.AppendLine(inv, $"layers:            {c.NumHiddenLayers}");
        sb.AppendLine(inv, $"hidden size:       {c.HiddenSize} (intermediate {c.IntermediateSize})");
        sb.AppendLine(inv, $"attention heads:   {c.NumAttentionHeads} query, {c.NumKeyValueHeads} key/value, head dim {c.HeadDim}");
        sb.AppendLine(inv, $"vocabulary:        {c.VocabSize}");
        sb.AppendLine(inv, $"context:           {c.MaxPositionEmbeddings} (rope theta {c.RopeTheta}{(c.RopeScaling is null ? "" : $", {c.RopeScaling.Type} scaling ×{c.RopeScaling.Factor}")})");
        sb.AppendLine(inv, $"tied embeddings:   {(c.TieWordEmbeddings ? "yes" : "no")}");
        sb.AppendLine(inv, $"block:             {string.Join(", ", BlockFeatures(c))}");
        sb.AppendLine(inv, $"parameters:        {Parameters:N0}");
        sb.AppendLine(inv, $"dtype:             {Dtype}");
        sb.AppendLine(inv, $"memory (weights):  {FormatBytes(WeightBytes)} ({WeightBytes * 8.0 / Parameters:F3} bits/parameter)");
        foreach (var (name, p, b) in Components)
            sb.AppendLine(inv, $"  {name,-16} {p,15:N0} params  {FormatBytes(b),10}");
        return sb.ToString();
    }

    /// <summary>
    /// What the family's decoder block does beyond the LLaMA block, in the config's terms, so that a user sees which
    /// of its options the engine runs (the activation always, then norms, attention and sliding-window options).
    /// </summary>
    private static IEnumerable<string> BlockFeatures(ModelConfig c)
    {
        var inv = CultureInfo.InvariantCulture;
        yield return c.HiddenActivation == "silu" ? "SwiGLU (silu)" : $"GeGLU ({c.HiddenActivation})";
        if (c.FusedProjections) yield return "fused qkv_proj and gate_up_proj";
        if (c.QkvBias) yield return c.OutputBias ? "q/k/v/o biases" : "q/k/v biases";
        if (c.MlpBias) yield return "mlp biases";
        if (c.QkNorm) yield return "q/k norm";
        if (c.NormWeightIsOffset) yield return "norms scale by 1 + weight";
        if (c.ScaleEmbeddings) yield return "embeddings × √hidden";
        if (c.SandwichNorms) yield return "post-attention and pre/post feed-forward norms";
        if (c.QueryPreAttnScalar is double scalar) yield return string.Create(inv, $"query_pre_attn_scalar {scalar}");
        if (c.AttnLogitSoftcapping is double attnCap) yield return string.Create(inv, $"attention soft-cap {attnCap}");
        if (c.FinalLogitSoftcapping is double finalCap) yield return string.Create(inv, $"final-logit soft-cap {finalCap}");
        if (c.SlidingWindow is int window)
            yield return string.Create(inv, $"sliding window {window} in {c.SlidingLayers.Count(s => s)} of {c.NumHiddenLayers} layers");
        if (c.LocalRopeTheta is double local) yield return string.Create(inv, $"sliding layers' rope theta {local}");
    }

    /// <summary>Bytes in binary units.</summary>
    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return string.Create(CultureInfo.InvariantCulture, $"{v:0.##} {units[u]}");
    }

    private static string Component(string name) =>
        name.StartsWith("model.embed_tokens") ? "embeddings" :
        name.StartsWith("lm_head") ? "lm_head" :
        name.Contains(".self_attn.") ? "attention" :
        name.Contains(".mlp.") ? "mlp" : "norms";
}
