using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace PeftHost.Core.Data;

/// <summary>
/// Tokenized datasets kept in memory for the length of a run, keyed by the source's fingerprint,
/// the shape's options and the tokenizer's identity: a recipe that trains and then evaluates on
/// the same data tokenizes it once. Entries die with the tokenizer (weakly keyed) or the cache.
/// </summary>
public sealed class TokenizationCache
{
    private readonly ConditionalWeakTable<object, ConcurrentDictionary<string, Lazy<IReadOnlyList<TokenizedExample>>>> _byTokenizer = new();
    private int _hits, _misses;

    /// <summary>How many lookups found a cached result.</summary>
    public int Hits => _hits;

    /// <summary>How many lookups tokenized.</summary>
    public int Misses => _misses;

    /// <summary>The tokenized examples of <paramref name="source"/> in <paramref name="shape"/>, tokenizing on the first request.</summary>
    public IReadOnlyList<TokenizedExample> GetOrAdd(IRecordSource source, IDatasetShape shape, ITokenEncoder tokenizer)
    {
        var entries = _byTokenizer.GetValue(tokenizer.CacheIdentity, _ => new());
        string key = source.Fingerprint + "\n" + shape.CacheKey;
        bool created = false;
        var lazy = entries.GetOrAdd(key, _ =>
        {
            created = true;
            return new Lazy<IReadOnlyList<TokenizedExample>>(() => shape.Tokenize(source.Read(), tokenizer));
        });
        if (created) Interlocked.Increment(ref _misses); else Interlocked.Increment(ref _hits);
        try { return lazy.Value; }
        catch
        {
            entries.TryRemove(new KeyValuePair<string, Lazy<IReadOnlyList<TokenizedExample>>>(key, lazy));
            throw;
        }
    }
}
