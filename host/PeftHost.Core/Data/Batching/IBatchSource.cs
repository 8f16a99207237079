namespace PeftHost.Core.Data;

/// <summary>
/// What the trainer draws batches from, epoch after epoch: a dataset held in memory
/// (<see cref="BatchLoader"/>) or one read from its file as training goes (<see cref="StreamingBatchLoader"/>).
/// </summary>
public interface IBatchSource
{
    /// <summary>Examples a batch (the last batch of an epoch may have fewer).</summary>
    int BatchSize { get; }

    /// <summary>Examples in the dataset; null when the data is streamed and its length is not known before reading it all.</summary>
    int? ExampleCount { get; }

    /// <summary>Batches an epoch; null when streamed.</summary>
    int? BatchesPerEpoch { get; }

    /// <summary>The next batch to deal. Setting it (on resume) moves the source there.</summary>
    DataPosition Position { get; set; }

    /// <summary>The examples of the next batch; advances <see cref="Position"/>, rolling into the next epoch after an epoch's last batch.</summary>
    IReadOnlyList<TokenizedExample> NextExamples();
}

/// <summary>Training data: it deals itself out in batches.</summary>
public interface ITrainingData
{
    /// <summary>A name for messages and metrics.</summary>
    string Name { get; }

    /// <summary>A batch source over this data, <paramref name="batchSize"/> examples a batch, each epoch's order seeded by (<paramref name="seed"/>, epoch).</summary>
    IBatchSource Batches(int batchSize, long seed, bool shuffle);
}
