using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Plugins.Lora;

/// <summary>
/// Fills a new adapter's A [r, in] and B [out, r] as PEFT's <c>LoraLayer.update_layer</c> does for each
/// <c>init_lora_weights</c> value. PiSSA and OLoRA also rewrite the base weight with the residual
/// W − scaling·B·A, so the adapted layer starts out computing exactly W.
/// </summary>
internal static class LoraInitializer
{
    /// <summary>nn.Linear's default weight init: kaiming-uniform with a = √5, i.e. U(−1/√fan_in, 1/√fan_in).</summary>
    public static void KaimingUniform(Tensor weight)
    {
        using var _ = no_grad();
        nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
    }

    /// <summary>Initialises <paramref name="a"/> and <paramref name="b"/> in place; may rewrite <paramref name="baseLayer"/>'s weight.</summary>
    public static void Initialise(LoraInitKind kind, Tensor a, Tensor b, nn.Module baseLayer, int rank, double scaling)
    {
        using var noGrad = no_grad();
        switch (kind)
        {
            case LoraInitKind.Default:
                KaimingUniform(a);
                nn.init.zeros_(b);
                break;
            case LoraInitKind.Random:
                // PEFT skips reset_lora_parameters: both keep nn.Linear's own init.
                KaimingUniform(a);
                KaimingUniform(b);
                break;
            case LoraInitKind.Gaussian:
                nn.init.normal_(a, 0, 1.0 / rank);
                nn.init.zeros_(b);
                break;
            case LoraInitKind.Pissa:
                Pissa(a, b, baseLayer, rank, scaling);
                break;
            case LoraInitKind.Olora:
                Olora(a, b, baseLayer, rank, scaling);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    /// <summary>
    /// PiSSA: W = U S Vᵀ (float32). With Sr = S[:r]/scaling, A = diag(√Sr)·Vᵀ[:r], B = U[:, :r]·diag(√Sr), and
    /// W is replaced by W − scaling·B·A. PEFT's "pissa_niter_N" uses a randomized SVD; here it uses the exact one.
    /// </summary>
    private static void Pissa(Tensor a, Tensor b, nn.Module baseLayer, int rank, double scaling)
    {
        using var scope = NewDisposeScope();
        var w = LinearLayers.ReadWeight(baseLayer, ScalarType.Float32);
        CheckRank(w, rank, "pissa");
        var (u, s, vh) = linalg.svd(w, fullMatrices: false);
        var sr = s[..rank].DividedBy(scaling);
        var sqrtS = sr.sqrt();
        var loraA = sqrtS.unsqueeze(1) * vh[..rank];          // diag(√Sr) · Vhr   [r, in]
        var loraB = u[.., ..rank] * sqrtS.unsqueeze(0);        // Ur · diag(√Sr)    [out, r]
        a.copy_(loraA);
        b.copy_(loraB);
        LinearLayers.WriteWeight(baseLayer, w - loraB.matmul(loraA).Times(scaling));
    }

    /// <summary>OLoRA: W = Q R (float32); A = R[:r], B = Q[:, :r], and W is replaced by W − scaling·B·A.</summary>
    private static void Olora(Tensor a, Tensor b, nn.Module baseLayer, int rank, double scaling)
    {
        using var scope = NewDisposeScope();
        var w = LinearLayers.ReadWeight(baseLayer, ScalarType.Float32);
        CheckRank(w, rank, "olora");
        var (q, r) = linalg.qr(w);
        var loraA = r[..rank].contiguous();
        var loraB = q[.., ..rank].contiguous();
        a.copy_(loraA);
        b.copy_(loraB);
        LinearLayers.WriteWeight(baseLayer, w - loraB.matmul(loraA).Times(scaling));
    }

    private static void CheckRank(Tensor w, int rank, string method)
    {
        long k = Math.Min(w.shape[0], w.shape[1]);
        if (rank > k)
            throw new ConfigException($"init_lora_weights \"{method}\" needs r <= min(out, in) = {k} for a [{w.shape[0]}, {w.shape[1]}] weight, got r = {rank}", "r");
    }
}
