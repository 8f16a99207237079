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

    /// <summary>Forgets everything (buffers are kept for reuse).</summary>
    public void Reset() { Length = 0; PrefixLength = 0; VirtualTokens = 0; }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
