using PeftHost.Core.Data;

namespace PeftHost.Tests.Data;

/// <summary>
/// A dataset streamed from its file (issue #23: data larger than memory streams instead of loading whole): every
/// epoch deals each example once, in a seeded order that differs per epoch, and a loader set to a saved position
/// deals exactly what the uninterrupted loader dealt from there (which is what resuming a run relies on).
/// </summary>
public class StreamingDatasetTests
{
    /// <summary>Records "r0", "r1", … read lazily, counting how many were read.</summary>
    private sealed class CountingSource(int count) : IRecordSource
    {
        public int Read_ { get; private set; }
        public string Name => "numbered.jsonl";
        public string Fingerprint => $"numbered {count}";

        public IEnumerable<DataRecord> Read()
        {
            for (int i = 0; i < count; i++)
            {
                Read_++;
                yield return new DataRecord(new Dictionary<string, string?> { ["text"] = $"r{i}" }, Name, i + 1);
            }
        }
    }

    private static readonly ByteTokenizer Tokenizer = new();

    private static StreamingDataset Stream(CountingSource source, int buffer) =>
        new(source, new CausalTextShape(16, CausalLayout.TruncateAndPad), Tokenizer, buffer);

    private static string[] Names(IEnumerable<TokenizedExample> examples) => examples.Select(e => Tokenizer.Decode(e.InputIds)).ToArray();

    [Fact]
    public void Each_epoch_deals_every_example_once_in_its_own_seeded_order()
    {
        var data = Stream(new CountingSource(50), buffer: 8);
        using var loader = new StreamingBatchLoader(data, batchSize: 7, seed: 5);
        Assert.Null(loader.BatchesPerEpoch);
        var epoch0 = Names(Enumerable.Range(0, 8).SelectMany(_ => loader.NextExamples()));
        Assert.Equal(new DataPosition(1, 0), loader.Position); // 50 examples: 7 batches of 7 and one of 1
        var epoch1 = Names(Enumerable.Range(0, 8).SelectMany(_ => loader.NextExamples()));
        var all = Enumerable.Range(0, 50).Select(i => $"r{i}").ToArray();
        Assert.Equal(all.Order(), epoch0.Order());
        Assert.Equal(all.Order(), epoch1.Order());
        Assert.NotEqual(all, epoch0); // shuffled through the buffer
        Assert.NotEqual(epoch0, epoch1);

        using var again = new StreamingBatchLoader(data, batchSize: 7, seed: 5);
        Assert.Equal(epoch0, Names(Enumerable.Range(0, 8).SelectMany(_ => again.NextExamples())));
        using var inOrder = new StreamingBatchLoader(data, batchSize: 7, seed: 5, shuffle: false);
        Assert.Equal(all, Names(Enumerable.Range(0, 8).SelectMany(_ => inOrder.NextExamples())));
    }

    [Fact]
    public void A_loader_set_to_a_saved_position_deals_what_the_uninterrupted_one_dealt()
    {
        var data = Stream(new CountingSource(30), buffer: 10);
        using var through = new StreamingBatchLoader(data, batchSize: 4, seed: 9);
        var positions = new List<DataPosition>();
        var batches = new List<string[]>();
        for (int i = 0; i < 20; i++)
        {
            positions.Add(through.Position);
            batches.Add(Names(through.NextExamples()));
        }
        foreach (int k in new[] { 3, 7, 8, 13 })
        {
            using var resumed = new StreamingBatchLoader(data, batchSize: 4, seed: 9) { Position = positions[k] };
            for (int i = k; i < 20; i++) Assert.Equal(batches[i], Names(resumed.NextExamples()));
        }
    }

    [Fact]
    public void It_reads_only_as_far_as_training_goes()
    {
        var source = new CountingSource(1_000_000);
        using var loader = new StreamingBatchLoader(Stream(source, buffer: 100), batchSize: 8, seed: 1);
        for (int i = 0; i < 3; i++) loader.NextExamples();
        // One group of records is tokenized at a time; the shuffle buffer holds 100 of them.
        Assert.InRange(source.Read_, 124, StreamingDataset.RecordsPerGroup);
    }
}
