using System.Text.Json.Nodes;
using PeftHost.Core.Peft;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Recipes;

/// <summary>
/// <c>addWeightedAdapter</c> from a recipe, checked against deltas computed by hand from the saved sources:
/// with cᵢ = wᵢ·sᵢ (sᵢ = lora_alpha/r of source i), <c>svd</c> and <c>cat</c> give Σ cᵢ·BᵢAᵢ (svd exactly when its
/// rank holds the sum), <c>linear</c> gives (Σ √|cᵢ|·Bᵢ)(Σ sign(cᵢ)·√|cᵢ|·Aᵢ), as PEFT's add_weighted_adapter does.
/// </summary>
public sealed class WeightedAdapterTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private const string Prefix = "base_model.model.";

    [Fact]
    public void Every_combination_type_gives_the_hand_computed_delta()
    {
        // Scalings: a = 8/4 = 2 (α = 2r, as the docs' example), b = 4/4 = 1; b also covers o_proj, which a lacks.
        _h.RunOk("""
            import { loadModel, getPeftModel, addAdapter, addWeightedAdapter, saveAdapter } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"),
                { method: "lora", r: 4, loraAlpha: 8, targetModules: ["q_proj", "v_proj"], initLoraWeights: false }, "a");
            addAdapter(model, "b", { method: "lora", r: 4, loraAlpha: 4, targetModules: ["q_proj", "o_proj"], initLoraWeights: false });
            addWeightedAdapter(model, ["a", "b"], [1, 0], "first", { combinationType: "svd", svdRank: 4 });
            addWeightedAdapter(model, ["a", "b"], [0.7, -0.4], "svd", { svdRank: 8 });
            addWeightedAdapter(model, ["a", "b"], [0.7, -0.4], "cat", "cat");
            addWeightedAdapter(model, ["a", "b"], [0.5, -2], "linear", "linear");
            saveAdapter(model, "adapters");
            """);
        string root = Path.Combine(_h.Output, "adapters");
        var a = Source(root, "a");
        var b = Source(root, "b");

        Check(root, "first", path => Sum(path, (a, 1.0), (b, 0.0)));
        Check(root, "svd", path => Sum(path, (a, 0.7), (b, -0.4)));
        Check(root, "cat", path => Sum(path, (a, 0.7), (b, -0.4)));
        Check(root, "linear", path =>
        {
            Tensor? sumA = null, sumB = null;
            foreach (var (source, weight) in new[] { (a, 0.5), (b, -2.0) })
            {
                if (!source.Layers.TryGetValue(path, out var layer)) continue;
                double c = weight * source.Scaling;
                sumA = Add(sumA, layer.A * (Math.Sign(c) * Math.Sqrt(Math.Abs(c))));
                sumB = Add(sumB, layer.B * Math.Sqrt(Math.Abs(c)));
            }
            return sumB!.matmul(sumA!);
        });
    }

    /// <summary>The blend's delta B·A at every layer, against <paramref name="expected"/>; the blend's own scaling must be 1.</summary>
    private static void Check(string root, string name, Func<string, Tensor> expected)
    {
        var blend = Source(root, name);
        Assert.Equal(1.0, blend.Scaling);
        var config = AdapterFiles.ReadConfig(Path.Combine(root, name));
        var ranks = config["rank_pattern"]!.AsObject();
        var alphas = config["alpha_pattern"]!.AsObject();
        foreach (var (path, rank) in ranks) Assert.Equal(rank!.GetValue<double>(), alphas[path]!.GetValue<double>());
        Assert.NotEmpty(blend.Layers);
        foreach (var (path, layer) in blend.Layers)
        {
            using var scope = NewDisposeScope();
            var want = expected(path);
            var got = layer.B.matmul(layer.A);
            double diff = (want - got).abs().max().item<float>();
            double scale = Math.Max(1e-3, want.abs().max().item<float>());
            Assert.True(diff <= 1e-4 * scale, $"{name} at {path}: max difference {diff:G4} against {scale:G4}");
        }
    }

    /// <summary>Σ wᵢ·sᵢ·BᵢAᵢ over the sources present at <paramref name="path"/>.</summary>
    private static Tensor Sum(string path, params (SavedLora Source, double Weight)[] terms)
    {
        Tensor? sum = null;
        foreach (var (source, weight) in terms)
            if (source.Layers.TryGetValue(path, out var layer))
                sum = Add(sum, layer.B.matmul(layer.A) * (weight * source.Scaling));
        return sum!;
    }

    private static Tensor Add(Tensor? sum, Tensor term) => sum is null ? term : sum + term;

    private sealed record SavedLayer(Tensor A, Tensor B);

    private sealed record SavedLora(double Scaling, Dictionary<string, SavedLayer> Layers);

    /// <summary>A saved LoRA adapter: its scaling (lora_alpha / r) and A, B per layer path.</summary>
    private static SavedLora Source(string root, string name)
    {
        string folder = Path.Combine(root, name);
        var config = AdapterFiles.ReadConfig(folder);
        double scaling = config["lora_alpha"]!.GetValue<double>() / config["r"]!.GetValue<double>();
        var state = AdapterFiles.ReadState(folder);
        var layers = new Dictionary<string, SavedLayer>();
        foreach (var key in state.Keys.Where(k => k.EndsWith(".lora_A.weight", StringComparison.Ordinal)))
        {
            string path = key[Prefix.Length..^".lora_A.weight".Length];
            layers[path] = new SavedLayer(state[key], state[$"{Prefix}{path}.lora_B.weight"]);
        }
        return new SavedLora(scaling, layers);
    }
}
