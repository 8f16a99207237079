using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>
/// Rotary position embeddings in Hugging Face's convention: the head dimension is split in
/// halves and rotated as (x₁, x₂) → (x₁cos − x₂sin, x₂cos + x₁sin) ("rotate_half").
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _invFreq; // [head_dim / 2], fp32

    /// <summary>Precomputes the inverse frequencies for <paramref name="config"/>'s (global) attention layers.</summary>
    public RotaryEmbedding(ModelConfig config, Device device) : this(InverseFrequencies(config.HeadDim, config.RopeTheta, config.RopeScaling), device) { }

    private RotaryEmbedding(float[] invFreq, Device device)
    {
        var onCpu = tensor(invFreq);
        _invFreq = device.type == DeviceType.CPU ? onCpu : onCpu.to(device);
    }

    /// <summary>
    /// The embedding of <paramref name="config"/>'s sliding-window layers: Gemma 3 rotates them with their own base
    /// (rope_local_base_freq) and no scaling; in other families they share the global one (null).
    /// </summary>
    public static RotaryEmbedding? ForSlidingLayers(ModelConfig config, Device device) =>
        config.LocalRopeTheta is double theta ? new(InverseFrequencies(config.HeadDim, theta, scaling: null), device) : null;

    /// <summary>The inverse frequency of each rotated pair, [head_dim / 2], for base <paramref name="theta"/> after <paramref name="scaling"/>.</summary>
    public static float[] InverseFrequencies(int headDim, double theta, RopeScaling? scaling)
    {
        var freqs = new float[headDim / 2];
        for (int i = 0; i < freqs.Length; i++)
            freqs[i] = (float)(1.0 / Math.Pow(theta, 2.0 * i / headDim));
        ApplyScaling(freqs, scaling);
        return freqs;
    }

    /// <summary>cos and sin for <paramref name="positionIds"/> [batch, seq]: each [batch, 1, seq, head_dim] in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var angles = positionIds.to(ScalarType.Float32).unsqueeze(-1) * _invFreq; // [B, T, D/2]
        var emb = cat([angles, angles], -1).unsqueeze(1);                        // [B, 1, T, D]
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>Rotates <paramref name="x"/> [batch, heads, seq, head_dim] by the given cos/sin.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var rotated = cat([x[.., .., .., (int)half..].neg(), x[.., .., .., ..(int)half]], -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }

    private static void ApplyScaling(float[] invFreq, RopeScaling? scaling)
    {
        if (scaling is null) return;
        if (scaling.Type == "linear")
        {
            for (int i = 0; i < invFreq.Length; i++) invFreq[i] /= (float)scaling.Factor;
            return;
        }
        // llama3: long wavelengths are slowed by the factor, short ones kept, a smooth blend between.
        double lowWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
        double highWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
        for (int i = 0; i < invFreq.Length; i++)
        {
            double f = invFreq[i], wavelen = 2 * Math.PI / f;
            if (wavelen > lowWavelen) f /= scaling.Factor;
            else if (wavelen >= highWavelen)
            {
                double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelen - scaling.LowFreqFactor)
                                / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                f = (1 - smooth) * f / scaling.Factor + smooth * f;
            }
            invFreq[i] = (float)f;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _invFreq.Dispose();
}
