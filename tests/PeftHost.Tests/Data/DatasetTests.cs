using PeftHost.Core.Data;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Data;

public class DatasetTests
{
    private static TokenizedDataset Numbered(int count) =>
        new(Enumerable.Range(0, count).Select(i => TokenizedExample.FullySupervised([3 + i, 4 + i, 5 + i])).ToArray(), "numbered");

    [Fact]
    public void Split_is_deterministic_disjoint_and_complete()
    {
        var data = Numbered(50);
        var (train, validation) = data.Split(0.2, seed: 7);
        Assert.Equal(10, validation.Count);
        Assert.Equal(40, train.Count);
        var firstIds = train.Concat(validation).Select(e => e.InputIds[0]).Order().ToArray();
        Assert.Equal(Enumerable.Range(3, 50), firstIds);
        var (train2, validation2) = data.Split(0.2, seed: 7);
        Assert.Equal(validation.Select(e => e.InputIds[0]), validation2.Select(e => e.InputIds[0]));
        var (_, other) = data.Split(0.2, seed: 8);
        Assert.NotEqual(validation.Select(e => e.InputIds[0]), other.Select(e => e.InputIds[0]));
    }

    [Fact]
    public void Shuffling_is_seeded_per_epoch_and_resumable_from_a_position()
    {
        var data = Numbered(10);
        var a = new BatchLoader(data, batchSize: 3, seed: 5);
        Assert.Equal(4, a.BatchesPerEpoch);
        var epoch0 = Enumerable.Range(0, 4).SelectMany(_ => a.NextExamples()).Select(e => e.InputIds[0]).ToArray();
        Assert.Equal(new DataPosition(1, 0), a.Position);
        var epoch1 = Enumerable.Range(0, 4).SelectMany(_ => a.NextExamples()).Select(e => e.InputIds[0]).ToArray();
        Assert.Equal(Enumerable.Range(3, 10), epoch0.Order());
        Assert.NotEqual(epoch0, epoch1);

        var b = new BatchLoader(data, batchSize: 3, seed: 5) { Position = new DataPosition(1, 2) };
        Assert.Equal(epoch1.Skip(6).Take(3), b.NextExamples().Select(e => e.InputIds[0]));
        Assert.Equal(epoch1.Skip(9), b.NextExamples().Select(e => e.InputIds[0]));

        Assert.Equal(DeterministicShuffle.Permutation(20, 99), DeterministicShuffle.Permutation(20, 99));
    }

    [Fact]
    public void Collator_pads_right_with_mask_zero_and_ignored_labels()
    {
        var examples = new[]
        {
            new TokenizedExample([1, 10, 11, 12], [-100, -100, 11, 12]),
            TokenizedExample.FullySupervised([1, 20]),
        };
        using var batch = new BatchCollator(padTokenId: 0, CPU).Collate(examples);
        Assert.Equal([2L, 4L], batch.InputIds.shape);
        Assert.Equal([1L, 10, 11, 12, 1, 20, 0, 0], batch.InputIds.data<long>().ToArray());
        Assert.Equal([1L, 1, 1, 1, 1, 1, 0, 0], batch.AttentionMask.data<long>().ToArray());
        Assert.Equal([-100L, -100, 11, 12, 1, 20, -100, -100], batch.Labels.data<long>().ToArray());
        Assert.Equal(3, batch.PredictedTokens);
        Assert.Equal(6, batch.RealTokens);
        Assert.True(batch.IsPadded);
        Assert.NotNull(batch.ModelMask);
    }

    [Fact]
    public void Tokenization_is_cached_by_source_shape_and_tokenizer()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["c.jsonl"], "{\"text\":\"hello there\"}\n");
        var cache = new TokenizationCache();
        var tok = new ByteTokenizer();
        var source = RecordSource.Open(dir["c.jsonl"]);
        var a = TokenizedDataset.Load(source, new CausalTextShape(4), tok, cache);
        var b = TokenizedDataset.Load(source, new CausalTextShape(4), tok, cache);
        Assert.Equal(1, cache.Misses);
        Assert.Equal(1, cache.Hits);
        Assert.Same(a[0], b[0]);
        TokenizedDataset.Load(source, new CausalTextShape(5), tok, cache);
        TokenizedDataset.Load(source, new CausalTextShape(4), new ByteTokenizer(), cache);
        Assert.Equal(3, cache.Misses);
    }
}
