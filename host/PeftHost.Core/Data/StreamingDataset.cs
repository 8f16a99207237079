namespace PeftHost.Core.Data;

/// <summary>
/// A dataset read from its file while training runs, never held whole, so a file larger than memory
/// trains in bounded memory. Records are read in file order, tokenized a group at a time and dealt
/// through a seeded shuffle buffer, the way Hugging Face datasets' <c>IterableDataset.shuffle(buffer_size)</c>
/// works. Each epoch reads the file again; an epoch's order is a function of (seed, epoch) alone, so a
/// resumed run gets back to its position by reading past the batches it already trained on.
/// </summary>
public sealed class StreamingDataset(IRecordSource source, IDatasetShape shape, ITokenEncoder tokenizer, int shuffleBuffer = StreamingDataset.DefaultShuffleBuffer)
    : ITrainingData
{
    /// <summary>Examples held for shuffling unless told otherwise (Hugging Face's default is 1,000 too).</summary>
    public const int DefaultShuffleBuffer = 1000;

    /// <summary>
    /// Records tokenized together. A packed text shape packs within a group, so each group's incomplete last
    /// block is dropped, as with <c>datasets</c>' <c>map(batched=True)</c> over a stream (its default batch is 1,000 too).
    /// </summary>
    public const int RecordsPerGroup = 1000;

    /// <inheritdoc />
    public string Name => source.Name;

    /// <summary>Examples held in the shuffle buffer.</summary>
    public int ShuffleBuffer { get; } = shuffleBuffer >= 1 ? shuffleBuffer
        : throw new ArgumentOutOfRangeException(nameof(shuffleBuffer), shuffleBuffer, "must be at least 1");

    /// <inheritdoc />
    public IBatchSource Batches(int batchSize, long seed, bool shuffle) => new StreamingBatchLoader(this, batchSize, seed, shuffle);

    /// <summary>One pass over the file: in file order, or shuffled through the buffer with <paramref name="orderSeed"/>.</summary>
    public IEnumerable<TokenizedExample> Examples(ulong orderSeed, bool shuffle) => shuffle ? Shuffled(InFileOrder(), ShuffleBuffer, orderSeed) : InFileOrder();

    private IEnumerable<TokenizedExample> InFileOrder()
    {
        var group = new List<DataRecord>(RecordsPerGroup);
        foreach (var record in source.Read())
        {
            group.Add(record);
            if (group.Count < RecordsPerGroup) continue;
            foreach (var example in shape.Tokenize(group, tokenizer)) yield return example;
            group.Clear();
        }
        if (group.Count > 0)
            foreach (var example in shape.Tokenize(group, tokenizer)) yield return example;
    }

    /// <summary>Fill the buffer; then each new example takes the place of a random one, which is dealt; the rest end the pass in a seeded order.</summary>
    private static IEnumerable<TokenizedExample> Shuffled(IEnumerable<TokenizedExample> examples, int size, ulong seed)
    {
        var buffer = new List<TokenizedExample>(Math.Min(size, 4096));
        ulong state = seed;
        foreach (var example in examples)
        {
            if (buffer.Count < size)
            {
                buffer.Add(example);
                continue;
            }
            int i = DeterministicShuffle.Draw(ref state, size);
            yield return buffer[i];
            buffer[i] = example;
        }
        foreach (int i in DeterministicShuffle.Permutation(buffer.Count, state))
            yield return buffer[i];
    }
}
