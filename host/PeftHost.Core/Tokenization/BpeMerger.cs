namespace PeftHost.Core.Tokenization;

/// <summary>
/// The BPE merge loop of Hugging Face tokenizers and transformers.js: repeatedly merge the adjacent pair
/// with the lowest merge rank; of equally ranked pairs the leftmost goes first. Written here because
/// Microsoft.ML.Tokenizers' SentencePiece BPE takes the rightmost of equal pairs ("yyyy@" gave ▁yy yy
/// instead of ▁y yy y). A heap of candidate pairs makes it O(n log n) in the symbols of a word.
/// </summary>
internal sealed class BpeMerger
{
    // Keyed by the pair as a tuple: its hash mixes both ids (a long key's hash, left ^ right, collides badly).
    private readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges;

    /// <summary>A merger over <paramref name="merges"/>, highest priority first, given as token ids.</summary>
    public BpeMerger(IReadOnlyList<(int Left, int Right, int Merged)> merges)
    {
        _merges = new Dictionary<(int, int), (int, int)>(merges.Count);
        for (var rank = 0; rank < merges.Count; rank++)
            _merges.TryAdd((merges[rank].Left, merges[rank].Right), (rank, merges[rank].Merged));
    }

    /// <summary>
    /// Merges <paramref name="symbols"/> (token ids; a negative id never merges) in place and returns how
    /// many symbols remain at its front.
    /// </summary>
    public int Merge(Span<int> symbols)
    {
        var n = symbols.Length;
        if (n < 2)
            return n;
        var ids = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        for (var i = 0; i < n; i++)
        {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        // A queued pair is (left position, left id, right id); it is stale once either side has changed.
        var queue = new PriorityQueue<(int Left, int LeftId, int RightId), (int Rank, int Left)>();
        void Offer(int left)
        {
            var right = next[left];
            if (right >= 0 && _merges.TryGetValue((ids[left], ids[right]), out var merge))
                queue.Enqueue((left, ids[left], ids[right]), (merge.Rank, left));
        }
        for (var i = 0; i < n - 1; i++)
            Offer(i);
        while (queue.TryDequeue(out var pair, out _))
        {
            var right = next[pair.Left];
            if (ids[pair.Left] != pair.LeftId || right < 0 || ids[right] != pair.RightId)
                continue;
            ids[pair.Left] = _merges[(pair.LeftId, pair.RightId)].Merged;
            ids[right] = -1;
            next[pair.Left] = next[right];
            if (next[right] >= 0)
                prev[next[right]] = pair.Left;
            if (prev[pair.Left] >= 0)
                Offer(prev[pair.Left]);
            Offer(pair.Left);
        }
        var count = 0;
        for (var i = 0; i >= 0; i = next[i])
            symbols[count++] = ids[i];
        return count;
    }
}
