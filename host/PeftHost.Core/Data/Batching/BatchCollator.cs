using static TorchSharp.torch;

namespace PeftHost.Core.Data;

/// <summary>
/// Pads examples on the right to the longest in the batch (padding: <paramref name="padTokenId"/>,
/// mask 0, label −100) and moves the tensors to <paramref name="device"/>. A packed example's mask holds
/// its segment numbers (1, 2, …) instead of 1, which the model reads as attention boundaries.
/// </summary>
public sealed class BatchCollator(int padTokenId, Device device)
{
    /// <summary>A collator padding with <paramref name="tokenizer"/>'s padding id.</summary>
    public BatchCollator(ITokenEncoder tokenizer, Device device) : this(tokenizer.PaddingId(), device) { }

    /// <summary>Where batches go.</summary>
    public Device Device => device;

    /// <summary>Builds the batch of <paramref name="examples"/>.</summary>
    public Batch Collate(IReadOnlyList<TokenizedExample> examples)
    {
        if (examples.Count == 0) throw new ArgumentException("a batch needs at least one example");
        int rows = examples.Count;
        int length = examples.Max(e => e.Length);
        var ids = new long[rows * length];
        var mask = new long[rows * length];
        var labels = new long[rows * length];
        long real = 0, predicted = 0;
        bool padded = false, packed = false;
        for (int r = 0; r < rows; r++)
        {
            var e = examples[r];
            if (e.Labels.Length != e.InputIds.Length)
                throw new ArgumentException($"example {r}: {e.InputIds.Length} ids but {e.Labels.Length} labels");
            int offset = r * length;
            for (int t = 0; t < length; t++)
            {
                bool isReal = t < e.Length;
                ids[offset + t] = isReal ? e.InputIds[t] : padTokenId;
                mask[offset + t] = isReal ? e.Segments?[t] ?? 1 : 0;
                labels[offset + t] = isReal ? e.Labels[t] : TokenizedExample.IgnoreIndex;
            }
            real += e.Length;
            predicted += e.PredictedTokens;
            padded |= e.Length < length;
            packed |= e.Segments is not null;
        }
        return new Batch(ToDevice(ids, rows, length), ToDevice(mask, rows, length), ToDevice(labels, rows, length), real, predicted, padded || packed);
    }

    private Tensor ToDevice(long[] data, int rows, int length)
    {
        var cpu = tensor(data, [rows, length], ScalarType.Int64);
        if (device.type == TorchSharp.DeviceType.CPU) return cpu;
        var moved = cpu.to(device);
        cpu.Dispose();
        return moved;
    }
}
