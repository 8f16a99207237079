using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>
/// Preallocated key/value buffers, one pair per layer, shape [batch, kv heads, capacity, head dim].
/// Each decoding step writes its new keys in place, so a step costs no reallocation or copy of
/// the past. Layout along the sequence: [attention prefix][virtual tokens + tokens].
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    /// <summary>Allocates buffers for <paramref name="capacity"/> positions.</summary>
    public KvCache(ModelConfig config, long batchSize, int capacity, ScalarType dtype, Device device)
    {
        Capacity = capacity;
        BatchSize = batchSize;
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i] = zeros([batchSize, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
            _values[i] = zeros([batchSize, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
        }
    }

    /// <summary>
    /// A cache for <paramref name="rows"/> sequences of up to <paramref name="tokens"/> tokens through
    /// <paramref name="model"/> as its adapters stand: room for their attention prefix and virtual tokens too.
    /// </summary>
    public static KvCache For(CausalLanguageModel model, long rows, int tokens)
    {
        int extra = (model.Hooks.ActiveAttentionPrefix()?.PrefixLength ?? 0) + (model.Hooks.ActiveInputEmbeddingHook()?.VirtualTokenCount ?? 0);
        return new KvCache(model.Config, rows, tokens + extra, model.Dtype, model.Device);
    }

    /// <summary>Positions the buffers can hold.</summary>
    public int Capacity { get; }

    /// <summary>Rows the cache was made for.</summary>
    public long BatchSize { get; }

    /// <summary>Positions filled so far, prefix included.</summary>
    public int Length { get; internal set; }

    /// <summary>Leading positions holding an attention prefix (prefix tuning), always attended to.</summary>
    public int PrefixLength { get; internal set; }

    /// <summary>Positions after the prefix that hold virtual tokens (prompt tuning), never masked.</summary>
    public int VirtualTokens { get; internal set; }

    /// <summary>Token positions (excluding prefix and virtual tokens) filled so far.</summary>
    public int TokenLength => Length - PrefixLength - VirtualTokens;

    /// <summary>Writes <paramref name="key"/>/<paramref name="value"/> [B, KV, T, D] at <paramref name="offset"/>; returns views of positions [0, offset + T).</summary>
    internal (Tensor Key, Tensor Value) Write(int layer, int offset, Tensor key, Tensor value)
    {
        long t = key.shape[2];
        if (offset + t > Capacity)
            throw new InvalidOperationException($"KV cache full: {offset + t} positions needed, capacity {Capacity}");
        using (no_grad())
        {
            _keys[layer].narrow(2, offset, t).copy_(key);
            _values[layer].narrow(2, offset, t).copy_(value);
        }
        return (_keys[layer].narrow(2, 0, offset + t), _values[layer].narrow(2, 0, offset + t));
    }

    /// <summary>
    /// Forgets the positions from <paramref name="length"/> on (prefix and virtual tokens stay), so
    /// several continuations can be run, one after another, after the same cached prompt.
    /// </summary>
    public void Crop(int length)
    {
        if (length < PrefixLength + VirtualTokens || length > Length)
            throw new ArgumentOutOfRangeException(nameof(length), $"can crop to {PrefixLength + VirtualTokens}..{Length} positions, not {length}");
        Length = length;
    }

    /// <summary>Forgets everything (buffers are kept for reuse).</summary>
    public void Reset() { Length = 0; PrefixLength = 0; VirtualTokens = 0; }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
