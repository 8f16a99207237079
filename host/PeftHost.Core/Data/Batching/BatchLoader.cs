namespace PeftHost.Core.Data;

/// <summary>Where a <see cref="BatchLoader"/> is: the epoch and the next batch within it.</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Batch">0-based index of the next batch in the epoch.</param>
public readonly record struct DataPosition(int Epoch, int Batch);

/// <summary>
/// Deals a dataset out in batches, epoch after epoch. With shuffling, each epoch's order is a
/// permutation seeded by (seed, epoch), so a saved <see cref="Position"/> is all it takes to
/// resume exactly. The last batch of an epoch may be smaller.
/// </summary>
public sealed class BatchLoader : IBatchSource
{
    private readonly TokenizedDataset _dataset;
    private readonly long _seed;
    private readonly bool _shuffle;
    private int[]? _order;
    private int _orderEpoch = -1;

    /// <summary>Creates a loader over <paramref name="dataset"/> with <paramref name="batchSize"/> examples a batch.</summary>
    public BatchLoader(TokenizedDataset dataset, int batchSize, long seed = 0, bool shuffle = true)
    {
        if (dataset.Count == 0) throw new ArgumentException($"dataset '{dataset.Name}' has no examples");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be at least 1");
        _dataset = dataset;
        BatchSize = batchSize;
        _seed = seed;
        _shuffle = shuffle;
    }

    /// <inheritdoc />
    public int BatchSize { get; }

    /// <inheritdoc />
    public int? ExampleCount => _dataset.Count;

    /// <inheritdoc />
    public int? BatchesPerEpoch => Batches;

    private int Batches => (_dataset.Count + BatchSize - 1) / BatchSize;

    /// <inheritdoc />
    public DataPosition Position { get; set; }

    /// <inheritdoc />
    public IReadOnlyList<TokenizedExample> NextExamples()
    {
        var (epoch, batch) = Position;
        var order = Order(epoch);
        int start = batch * BatchSize;
        int end = Math.Min(start + BatchSize, order.Length);
        var examples = new TokenizedExample[end - start];
        for (int i = start; i < end; i++) examples[i - start] = _dataset[order[i]];
        Position = batch + 1 >= Batches ? new DataPosition(epoch + 1, 0) : new DataPosition(epoch, batch + 1);
        return examples;
    }

    /// <summary>The order of examples in <paramref name="epoch"/>.</summary>
    public int[] Order(int epoch)
    {
        if (_orderEpoch == epoch && _order is not null) return _order;
        _order = _shuffle
            ? DeterministicShuffle.Permutation(_dataset.Count, DeterministicShuffle.Combine(_seed, epoch))
            : Enumerable.Range(0, _dataset.Count).ToArray();
        _orderEpoch = epoch;
        return _order;
    }
}
