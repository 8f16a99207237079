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

    /// <summary>Precomputes the inverse frequencies for <paramref name="config"/>.</summary>
    public RotaryEmbedding(ModelConfig config, Device device)
    {
        int dim = config.HeadDim;
        var freqs = new float[dim / 2];
        for (int i = 0; i < freqs.Length; i++)
            freqs[i] = (float)(1.0 / Math.Pow(config.RopeTheta, 2.0 * i / dim));
        ApplyScaling(freqs, config.RopeScaling);
        var onCpu = tensor(freqs);
        _invFreq = device.type == DeviceType.CPU ? onCpu : onCpu.to(device);
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
