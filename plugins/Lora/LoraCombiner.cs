using System.Text.Json.Nodes;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Plugins.Lora;

/// <summary>
/// PEFT's <c>LoraModel.add_weighted_adapter</c> for the <c>linear</c>, <c>cat</c> and <c>svd</c> combinations.
/// The new adapter has r = lora_alpha = new rank, so its scaling is 1 and each source's scaling sᵢ is folded
/// into the new A/B. Per layer, over the sources present on it, with weights wᵢ:
/// <list type="bullet">
/// <item><c>linear</c> (equal ranks): with cᵢ = wᵢ·sᵢ, A = Σ sign(cᵢ)·√|cᵢ|·Aᵢ, B = Σ √|cᵢ|·Bᵢ — so
/// ΔW = (Σ√|cᵢ|Bᵢ)(Σ sign(cᵢ)√|cᵢ|Aᵢ), which equals Σ wᵢ·sᵢ·BᵢAᵢ only for a single source (the cross terms are
/// PEFT's behaviour too; the sign goes on A alone, as PEFT does, so that negative weights subtract).</item>
/// <item><c>cat</c>: A = [w₁s₁A₁; w₂s₂A₂; …] (rows), B = [B₁ B₂ …] (columns): ΔW = Σ wᵢ·sᵢ·BᵢAᵢ exactly, rank Σ rᵢ.</item>
/// <item><c>svd</c>: M = Σ wᵢ·ΔWᵢ with ΔWᵢ = sᵢ·BᵢAᵢ, the delta each source applies (its scaling enters once, as in
/// PEFT since huggingface/peft#3111); then M ≈ U S Vᵀ truncated to k = min(svd_rank ?? max rᵢ, rank of M's shape):
/// B = U[:, :k]·diag(S[:k]), A = Vᵀ[:k]. With weights [1, 0] and k ≥ r₁ the blend reproduces the first source.</item>
/// </list>
/// A single source is always combined "linear" (as PEFT does). The new config copies the first source's
/// (PEFT's <c>dataclasses.replace</c>) with r, lora_alpha and target_modules replaced, use_rslora off (PEFT's
/// fix for rsLoRA sources) and rank_pattern/alpha_pattern listing layers whose rank differs from r. The new
/// adapter starts frozen, as PEFT's <c>_freeze_adapter</c> leaves it; modules_to_save get fresh copies of the
/// original modules. DoRA adapters cannot be combined (PEFT does not carry magnitudes over either).
/// </summary>
public static class LoraCombiner
{
    /// <summary>The supported combination types.</summary>
    public static readonly IReadOnlyList<string> CombinationTypes = ["linear", "cat", "svd"];

    /// <summary>Adds adapter <paramref name="newName"/> combining <paramref name="sources"/> as described on the class.</summary>
    public static LoraAdapter Combine(IPeftModelSurface model, IReadOnlyList<LoraAdapter> sources, IReadOnlyList<double> weights,
        string newName, string combinationType, int? svdRank = null)
    {
        if (sources.Count == 0) throw new ArgumentException("no adapters to combine", nameof(sources));
        if (weights.Count != sources.Count)
            throw new ArgumentException($"{sources.Count} adapters but {weights.Count} weights", nameof(weights));
        if (!CombinationTypes.Contains(combinationType))
            throw new ArgumentException($"combination type '{combinationType}' is not supported (supported: {string.Join(", ", CombinationTypes)})", nameof(combinationType));
        if (sources.Select(s => s.Name).Distinct().Count() != sources.Count)
            throw new ArgumentException("an adapter is listed twice", nameof(sources));
        if (sources.FirstOrDefault(s => s.LoraConfig.UseDora) is { } dora)
            throw new NotSupportedException($"adapter '{dora.Name}' uses DoRA; combining DoRA adapters is not supported");
        if (svdRank is <= 0) throw new ArgumentOutOfRangeException(nameof(svdRank), "svd_rank must be positive");
        string type = sources.Count == 1 ? "linear" : combinationType;

        var ranks = sources.Select(s => s.LoraConfig.R).ToList();
        int newRank = type switch
        {
            "linear" when ranks.Distinct().Count() != 1 =>
                throw new ArgumentException($"combination type linear needs adapters of equal rank; got {string.Join(", ", ranks)}"),
            "linear" => ranks[0],
            "cat" => ranks.Sum(),
            _ => svdRank ?? ranks.Max(),
        };

        // Layers holding any source, in model order, with the per-layer combination.
        var layerOrder = new List<(string Path, LoraLayer Layer)>();
        foreach (var s in sources)
            foreach (var (path, layer) in s.Layers)
                if (!layerOrder.Any(l => ReferenceEquals(l.Layer, layer))) layerOrder.Add((path, layer));
        var pathIndex = TargetModuleMatcher.Candidates(model).Select((m, i) => (m.Path, i)).ToDictionary(x => x.Path, x => x.i);
        layerOrder = layerOrder.OrderBy(l => pathIndex.GetValueOrDefault(l.Path, int.MaxValue)).ToList();

        var config = NewConfig(sources, newRank);
        var computed = new List<(string Path, LoraLayer Layer, Tensor A, Tensor B)>();
        try
        {
            foreach (var (path, layer) in layerOrder)
            {
                var present = sources.Select((s, i) => (s.Name, Weight: weights[i])).Where(x => layer.HasAdapter(x.Name)).ToList();
                var (a, b) = type switch
                {
                    "linear" => Linear(layer, present, path),
                    "cat" => Cat(layer, present),
                    _ => Svd(layer, present, newRank),
                };
                computed.Add((path, layer, a, b));
            }

            var patterns = computed.Where(c => c.A.shape[0] != newRank).ToList();
            foreach (var (path, _, a, _) in patterns)
            {
                config.RankPattern[path] = (int)a.shape[0];
                config.AlphaPattern[path] = a.shape[0];
            }

            var layers = new List<(string Path, LoraLayer Layer)>();
            foreach (var (path, layer, a, b) in computed)
            {
                var reference = layer.LoraA(sources.First(s => layer.HasAdapter(s.Name)).Name);
                int r = (int)a.shape[0];
                var settings = new LoraAdapterSettings(r, r, 1.0, config.LoraDropout, false);
                layer.AddAdapter(newName, settings, LoraInitKind.Default, reference.device, reference.dtype, trainable: false);
                using (no_grad())
                {
                    layer.LoraA(newName).copy_(a);
                    layer.LoraB(newName).copy_(b);
                }
                layers.Add((path, layer));
            }

            var saved = new List<(string Path, ModulesToSaveLayer Layer)>();
            foreach (var (path, wrapper) in sources[0].SavedModules)
            {
                wrapper.AddAdapter(newName, trainable: false);
                saved.Add((path, wrapper));
            }
            return new LoraAdapter(model, newName, config, layers, saved);
        }
        finally
        {
            foreach (var c in computed) { c.A.Dispose(); c.B.Dispose(); }
        }
    }

    private static LoraConfig NewConfig(IReadOnlyList<LoraAdapter> sources, int newRank)
    {
        var targets = sources.Select(s => s.LoraConfig.TargetModules).ToList();
        JsonNode union;
        if (targets.All(t => t is JsonArray))
        {
            union = new JsonArray(sources.SelectMany(s => s.LoraConfig.TargetModuleNames!)
                .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(n => (JsonNode)n).ToArray());
        }
        else if (sources.All(s => s.LoraConfig.TargetModuleRegex is not null))
        {
            union = JsonValue.Create(string.Join("|", sources.Select(s => $"({s.LoraConfig.TargetModuleRegex})")))!;
        }
        else throw new ArgumentException("all adapters must give target_modules the same way (all lists or all regex strings)");

        var config = sources[0].LoraConfig.Clone();
        config.R = newRank;
        config.LoraAlpha = newRank;
        config.TargetModules = union;
        config.UseRslora = false;
        config.RankPattern = [];
        config.AlphaPattern = [];
        config.InferenceMode = sources[0].LoraConfig.InferenceMode;
        return config;
    }

    /// <summary>A = Σ sign(wᵢsᵢ)·√|wᵢsᵢ|·Aᵢ, B = Σ √|wᵢsᵢ|·Bᵢ (float32).</summary>
    private static (Tensor A, Tensor B) Linear(LoraLayer layer, List<(string Name, double Weight)> present, string path)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        Tensor? a = null, b = null;
        foreach (var (name, weight) in present)
        {
            double product = weight * layer.Settings(name).Scaling;
            double factor = Math.Sqrt(Math.Abs(product));
            var ai = layer.LoraA(name).detach().to(ScalarType.Float32).Times(Math.Sign(product) * factor);
            var bi = layer.LoraB(name).detach().to(ScalarType.Float32).Times(factor);
            if (a is not null && !a.shape.SequenceEqual(ai.shape))
                throw new ArgumentException($"combination type linear needs equal ranks; '{path}' has ranks {a.shape[0]} and {ai.shape[0]}");
            a = a is null ? ai : a.Plus(ai);
            b = b is null ? bi : b.Plus(bi);
        }
        return (a!.MoveToOuterDisposeScope(), b!.MoveToOuterDisposeScope());
    }

    /// <summary>A = [wᵢsᵢAᵢ] stacked by rows, B = [Bᵢ] side by side (float32).</summary>
    private static (Tensor A, Tensor B) Cat(LoraLayer layer, List<(string Name, double Weight)> present)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var aParts = present.Select(p => layer.LoraA(p.Name).detach().to(ScalarType.Float32).Times(p.Weight * layer.Settings(p.Name).Scaling)).ToList();
        var bParts = present.Select(p => layer.LoraB(p.Name).detach().to(ScalarType.Float32)).ToList();
        return (cat(aParts, 0).MoveToOuterDisposeScope(), cat(bParts, 1).MoveToOuterDisposeScope());
    }

    /// <summary>M = Σ wᵢ·ΔWᵢ (ΔWᵢ already carries sᵢ), truncated SVD: B = U[:, :k]·diag(S[:k]), A = Vᵀ[:k] (float32).</summary>
    private static (Tensor A, Tensor B) Svd(LoraLayer layer, List<(string Name, double Weight)> present, int newRank)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        Tensor? m = null;
        foreach (var (name, weight) in present)
        {
            var term = layer.DeltaWeight(name).Times(weight);
            m = m is null ? term : m.Plus(term);
        }
        var (u, s, vh) = linalg.svd(m!, fullMatrices: false);
        int k = (int)Math.Min(newRank, s.shape[0]);
        var b = u[.., ..k] * s[..k].unsqueeze(0);
        var a = vh[..k];
        return (a.contiguous().MoveToOuterDisposeScope(), b.contiguous().MoveToOuterDisposeScope());
    }
}
