namespace PeftHost.Core.Data;

/// <summary>
/// Deals a <see cref="StreamingDataset"/> out in batches while reading it. It reads one example ahead, so it
/// knows when a batch is an epoch's last. Setting <see cref="Position"/> (on resume) reopens the epoch and
/// reads past the batches before it.
/// </summary>
public sealed class StreamingBatchLoader : IBatchSource, IDisposable
{
    private readonly StreamingDataset _data;
    private readonly long _seed;
    private readonly bool _shuffle;
    private IEnumerator<TokenizedExample>? _epoch;
    private bool _hasNext; // _epoch.Current is the next example to deal
    private DataPosition _position;

    /// <summary>Creates a loader over <paramref name="data"/> with <paramref name="batchSize"/> examples a batch.</summary>
    public StreamingBatchLoader(StreamingDataset data, int batchSize, long seed = 0, bool shuffle = true)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be at least 1");
        _data = data;
        BatchSize = batchSize;
        _seed = seed;
        _shuffle = shuffle;
    }

    /// <inheritdoc />
    public int BatchSize { get; }

    /// <inheritdoc />
    public int? ExampleCount => null;

    /// <inheritdoc />
    public int? BatchesPerEpoch => null;

    /// <inheritdoc />
    public DataPosition Position
    {
        get => _position;
        set
        {
            Close();
            _position = value;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<TokenizedExample> NextExamples()
    {
        Open();
        var batch = new List<TokenizedExample>(BatchSize);
        while (batch.Count < BatchSize && TryTake(out var example)) batch.Add(example);
        if (_hasNext)
            _position = _position with { Batch = _position.Batch + 1 };
        else
        {
            Close();
            _position = new DataPosition(_position.Epoch + 1, 0);
        }
        return batch;
    }

    /// <inheritdoc />
    public void Dispose() => Close();

    private void Open()
    {
        if (_epoch is not null) return;
        _epoch = _data.Examples(DeterministicShuffle.Combine(_seed, _position.Epoch, 0x57_4EA3), _shuffle).GetEnumerator();
        _hasNext = _epoch.MoveNext();
        if (!_hasNext) throw new ArgumentException($"dataset '{_data.Name}' yields no examples (too short for maxLength, or empty)");
        for (long skip = (long)_position.Batch * BatchSize; skip > 0; skip--)
        {
            if (!TryTake(out _) || !_hasNext)
                throw new InvalidOperationException($"cannot go back to batch {_position.Batch} of epoch {_position.Epoch}: '{_data.Name}' now has fewer examples than that epoch had");
        }
    }

    private bool TryTake(out TokenizedExample example)
    {
        example = _hasNext ? _epoch!.Current : default!;
        if (!_hasNext) return false;
        _hasNext = _epoch!.MoveNext();
        return true;
    }

    private void Close()
    {
        _epoch?.Dispose();
        _epoch = null;
        _hasNext = false;
    }
}
