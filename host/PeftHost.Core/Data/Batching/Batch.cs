using static TorchSharp.torch;

namespace PeftHost.Core.Data;

/// <summary>A padded batch on the model's device: input ids, attention mask and labels, each [rows, length] int64.</summary>
public sealed class Batch : IDisposable
{
    internal Batch(Tensor inputIds, Tensor attentionMask, Tensor labels, long realTokens, long predictedTokens, bool padded)
    {
        InputIds = inputIds;
        AttentionMask = attentionMask;
        Labels = labels;
        RealTokens = realTokens;
        PredictedTokens = predictedTokens;
        IsPadded = padded;
    }

    /// <summary>Token ids [rows, length].</summary>
    public Tensor InputIds { get; }

    /// <summary>1 for real tokens, 0 for padding [rows, length]; in packed rows, each sequence's number (1, 2, …) instead of 1.</summary>
    public Tensor AttentionMask { get; }

    /// <summary>Labels [rows, length]: −100 where nothing is predicted (prompts, padding).</summary>
    public Tensor Labels { get; }

    /// <summary>Rows.</summary>
    public long Rows => InputIds.shape[0];

    /// <summary>Sequence length (after padding).</summary>
    public long Length => InputIds.shape[1];

    /// <summary>Non-padding tokens (for throughput).</summary>
    public long RealTokens { get; }

    /// <summary>Tokens that contribute to the loss: shifted labels that are not −100.</summary>
    public long PredictedTokens { get; }

    /// <summary>True when some row is padded or packed (the model then needs the attention mask).</summary>
    public bool IsPadded { get; }

    /// <summary>The mask to pass to the model: null when nothing is padded or packed (its fast causal path).</summary>
    public Tensor? ModelMask => IsPadded ? AttentionMask : null;

    /// <inheritdoc />
    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels.Dispose();
    }
}
