using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>What every attention layer of one forward pass shares: rotary tables, the mask, the cache, prefixes.</summary>
internal sealed class AttentionContext
{
    /// <summary>RoPE cos, [B, 1, T, D].</summary>
    public required Tensor Cos { get; init; }
    /// <summary>RoPE sin, [B, 1, T, D].</summary>
    public required Tensor Sin { get; init; }
    /// <summary>Boolean mask [B, 1, T, S] (true = attend), or null for the causal or full fast paths.</summary>
    public Tensor? Mask { get; init; }
    /// <summary>True when SDPA's built-in causal mask is exact (no cache, no prefix, no padding).</summary>
    public bool IsCausal { get; init; }
    /// <summary>The KV cache, when decoding incrementally.</summary>
    public KvCache? Cache { get; init; }
    /// <summary>Where this pass's keys go in the cache (after the prefix, if one is being seeded).</summary>
    public int CacheOffset { get; init; }
    /// <summary>Prefixes to prepend in this pass: always without a cache, once when seeding a cache.</summary>
    public IAttentionPrefix? Prefix { get; init; }
}
