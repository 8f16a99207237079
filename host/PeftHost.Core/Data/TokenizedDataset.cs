using System.Collections;

namespace PeftHost.Core.Data;

/// <summary>Tokenized examples ready for batching, with deterministic splitting.</summary>
public sealed class TokenizedDataset : IReadOnlyList<TokenizedExample>, ITrainingData
{
    private readonly IReadOnlyList<TokenizedExample> _examples;

    /// <summary>Wraps <paramref name="examples"/> under <paramref name="name"/>.</summary>
    public TokenizedDataset(IReadOnlyList<TokenizedExample> examples, string name = "dataset")
    {
        _examples = examples;
        Name = name;
    }

    /// <summary>A name for messages and metrics.</summary>
    public string Name { get; }

    /// <summary>Reads and tokenizes <paramref name="source"/> in <paramref name="shape"/> (through <paramref name="cache"/> when given).</summary>
    public static TokenizedDataset Load(IRecordSource source, IDatasetShape shape, ITokenEncoder tokenizer, TokenizationCache? cache = null)
    {
        var examples = cache is null ? shape.Tokenize(source.Read(), tokenizer) : cache.GetOrAdd(source, shape, tokenizer);
        return new TokenizedDataset(examples, source.Name);
    }

    /// <inheritdoc />
    public int Count => _examples.Count;

    /// <inheritdoc />
    public IBatchSource Batches(int batchSize, long seed, bool shuffle) => new BatchLoader(this, batchSize, seed, shuffle);

    /// <inheritdoc />
    public TokenizedExample this[int index] => _examples[index];

    /// <summary>All tokens in the dataset.</summary>
    public long TokenCount => _examples.Sum(e => (long)e.Length);

    /// <summary>The examples at <paramref name="indices"/>, in that order.</summary>
    public TokenizedDataset Select(IEnumerable<int> indices, string? name = null) =>
        new(indices.Select(i => _examples[i]).ToArray(), name ?? Name);

    /// <summary>
    /// Splits off a validation set of round(<paramref name="validationFraction"/> × count) examples
    /// (at least one of each when the fraction is positive and there are two or more examples),
    /// chosen by a permutation seeded with <paramref name="seed"/>. Both parts keep the original order.
    /// </summary>
    public (TokenizedDataset Train, TokenizedDataset Validation) Split(double validationFraction, long seed)
    {
        if (validationFraction is < 0 or >= 1 || double.IsNaN(validationFraction))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "must be in [0, 1)");
        int validation = (int)Math.Round(validationFraction * Count);
        if (validationFraction > 0 && Count >= 2) validation = Math.Clamp(validation, 1, Count - 1);
        var order = DeterministicShuffle.Permutation(Count, DeterministicShuffle.Combine(seed, 0x5EED_5917));
        var validationIndices = order.Take(validation).Order().ToArray();
        var trainIndices = order.Skip(validation).Order().ToArray();
        return (Select(trainIndices, $"{Name} (train)"), Select(validationIndices, $"{Name} (validation)"));
    }

    /// <inheritdoc />
    public IEnumerator<TokenizedExample> GetEnumerator() => _examples.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
