namespace PeftHost.Core.Data;

/// <summary>
/// Seeded, platform-independent permutations (SplitMix64 driving Fisher–Yates). The same seed
/// gives the same order on every machine and .NET version, which is what resuming needs:
/// an epoch's order is a function of (seed, epoch) and holds no hidden state.
/// </summary>
public static class DeterministicShuffle
{
    /// <summary>A permutation of 0..count-1 determined by <paramref name="seed"/>.</summary>
    public static int[] Permutation(int count, ulong seed)
    {
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        ulong state = seed;
        for (int i = count - 1; i > 0; i--)
        {
            int j = (int)(Next(ref state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>
    /// <paramref name="items"/> in the order <c>loadDataset</c>'s <c>shuffle</c> gives them for
    /// <paramref name="seed"/> (a salt keeps it independent of the other orders drawn from the same seed).
    /// </summary>
    public static List<T> Shuffled<T>(IReadOnlyList<T> items, long seed) =>
        Permutation(items.Count, Combine(seed, 0x5_4FF1E)).Select(i => items[i]).ToList();

    /// <summary>Combines values into one seed (for example a run seed and an epoch number).</summary>
    public static ulong Combine(params long[] parts)
    {
        ulong state = 0x9E3779B97F4A7C15UL;
        foreach (long part in parts)
        {
            state ^= (ulong)part;
            state = Next(ref state);
        }
        return state;
    }

    /// <summary>A draw from 0..<paramref name="bound"/>-1, advancing <paramref name="state"/> (the same generator as the permutations).</summary>
    public static int Draw(ref ulong state, int bound) => (int)(Next(ref state) % (ulong)bound);

    /// <summary>One SplitMix64 step.</summary>
    private static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
