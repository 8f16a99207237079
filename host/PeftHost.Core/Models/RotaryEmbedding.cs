using PeftHost.Sdk;
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
    private readonly Tensor? _longInvFreq; // longrope: the frequencies for sequences past the original context
    private readonly int _originalContext;
    private readonly double _attentionFactor; // longrope: cos and sin are scaled by it

    /// <summary>Precomputes the inverse frequencies for <paramref name="config"/>'s (global) attention layers.</summary>
    public RotaryEmbedding(ModelConfig config, Device device) : this(InverseFrequencies(config.HeadDim, config.RopeTheta, config.RopeScaling), device)
    {
        if (config.RopeScaling is { Type: "longrope" } longRope)
        {
            _longInvFreq = OnDevice(InverseFrequencies(config.HeadDim, config.RopeTheta, longRope, beyondOriginalContext: true), device);
            _originalContext = longRope.OriginalMaxPositionEmbeddings;
            _attentionFactor = longRope.AttentionFactor;
        }
    }

    private RotaryEmbedding(float[] invFreq, Device device)
    {
        _invFreq = OnDevice(invFreq, device);
        _attentionFactor = 1;
    }

    private static Tensor OnDevice(float[] values, Device device)
    {
        var onCpu = tensor(values);
        return device.type == DeviceType.CPU ? onCpu : onCpu.to(device);
    }

    /// <summary>
    /// The embedding of <paramref name="config"/>'s sliding-window layers: Gemma 3 rotates them with their own base
    /// (rope_local_base_freq) and no scaling; in other families they share the global one (null).
    /// </summary>
    public static RotaryEmbedding? ForSlidingLayers(ModelConfig config, Device device) =>
        config.LocalRopeTheta is double theta ? new(InverseFrequencies(config.HeadDim, theta, scaling: null), device) : null;

    /// <summary>
    /// The inverse frequency of each rotated pair, [head_dim / 2], for base <paramref name="theta"/> after <paramref name="scaling"/>;
    /// for longrope, within the original context or, with <paramref name="beyondOriginalContext"/>, past it.
    /// </summary>
    public static float[] InverseFrequencies(int headDim, double theta, RopeScaling? scaling, bool beyondOriginalContext = false)
    {
        var freqs = new float[headDim / 2];
        for (int i = 0; i < freqs.Length; i++)
            freqs[i] = (float)(1.0 / Math.Pow(theta, 2.0 * i / headDim));
        if (scaling is { Type: "longrope" })
        {
            var divisors = beyondOriginalContext ? scaling.LongFactor : scaling.ShortFactor;
            for (int i = 0; i < freqs.Length; i++) freqs[i] = (float)(freqs[i] / divisors[i]);
            return freqs;
        }
        ApplyScaling(freqs, scaling);
        return freqs;
    }

    /// <summary>cos and sin for <paramref name="positionIds"/> [batch, seq]: each [batch, 1, seq, head_dim] in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var angles = positionIds.to(ScalarType.Float32).unsqueeze(-1) * FrequenciesFor(positionIds); // [B, T, D/2]
        var emb = cat([angles, angles], -1).unsqueeze(1);                                            // [B, 1, T, D]
        Tensor cos = emb.cos(), sin = emb.sin();
        if (_attentionFactor != 1)
        {
            cos = cos.Times(_attentionFactor);
            sin = sin.Times(_attentionFactor);
        }
        return (cos.to(dtype).MoveToOuterDisposeScope(), sin.to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// longrope switches to its long factors for a call whose highest position is past the original context, as
    /// transformers' longrope update does (seq_len = max(position_ids) + 1); llama.cpp decides once per context
    /// (n_ctx &gt; the original context), so the two agree when a whole run stays on one side.
    /// </summary>
    private Tensor FrequenciesFor(Tensor positionIds) =>
        _longInvFreq is not null && positionIds.max().item<long>() + 1 > _originalContext ? _longInvFreq : _invFreq;

    /// <summary>Rotates <paramref name="x"/> [batch, heads, seq, head_dim] by the given cos/sin.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var rotated = cat([x[.., .., .., (int)half..].neg(), x[.., .., .., ..(int)half]], -1);
        return (x * cos).Plus(rotated * sin).MoveToOuterDisposeScope();
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
    public void Dispose()
    {
        _invFreq.Dispose();
        _longInvFreq?.Dispose();
    }
}
