namespace PeftHost.Core.Data;

/// <summary>
/// Packs short examples into sequences of at most a maximum length, so a batch carries little padding. Each part
/// keeps its identity (<see cref="TokenizedExample.Segments"/>): the model attends only within a part and numbers
/// its positions from 0, and a part's first token is not predicted from the previous part's last, so a packed
/// sequence has exactly the loss of its parts trained apart.
/// </summary>
public static class ExamplePacker
{
    /// <summary>
    /// Packs <paramref name="examples"/> in order, starting a new sequence when the next example does not fit
    /// (next fit: the order, and so the data order a seed gives, is kept). Examples must be at most
    /// <paramref name="maxLength"/> long.
    /// </summary>
    public static IReadOnlyList<TokenizedExample> Pack(IReadOnlyList<TokenizedExample> examples, int maxLength)
    {
        var packed = new List<TokenizedExample>();
        var group = new List<TokenizedExample>();
        int length = 0;
        foreach (var example in examples)
        {
            if (example.Length > maxLength)
                throw new ArgumentException($"an example of {example.Length} tokens is longer than the packing length {maxLength}");
            if (length + example.Length > maxLength && group.Count > 0)
            {
                packed.Add(Join(group));
                group.Clear();
                length = 0;
            }
            group.Add(example);
            length += example.Length;
        }
        if (group.Count > 0) packed.Add(Join(group));
        return packed;
    }

    private static TokenizedExample Join(List<TokenizedExample> group)
    {
        if (group.Count == 1) return group[0];
        int total = group.Sum(e => e.Length);
        var ids = new int[total];
        var labels = new int[total];
        var segments = new int[total];
        int at = 0;
        for (int g = 0; g < group.Count; g++)
        {
            var e = group[g];
            e.InputIds.CopyTo(ids, at);
            e.Labels.CopyTo(labels, at);
            // Position `at` would be scored as the continuation of the previous part: it starts a new one instead.
            labels[at] = TokenizedExample.IgnoreIndex;
            Array.Fill(segments, g + 1, at, e.Length);
            at += e.Length;
        }
        return new TokenizedExample(ids, labels) { Segments = segments };
    }
}
