using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Generation;

/// <summary>Turns next-token logits [B, V] into chosen tokens [B]: penalty, temperature, top-k, top-p, then argmax or a draw.</summary>
public sealed class LogitsProcessor(GenerationOptions options, Generator? generator)
{
    /// <summary>Picks the next token of every row. <paramref name="history"/> [B, L] holds ids already in each row (for the penalty).</summary>
    public Tensor Next(Tensor logits, Tensor? history)
    {
        using var scope = NewDisposeScope();
        var scores = logits.to(ScalarType.Float32);
        if (options.RepetitionPenalty != 1.0 && history is not null)
        {
            using var zero = 0.ToScalar();
            var seen = scores.gather(1, history);
            var penalised = where(seen < zero, seen.Times(options.RepetitionPenalty), seen.DividedBy(options.RepetitionPenalty));
            scores = scores.scatter(1, history, penalised);
        }
        if (options.Temperature == 0)
            return scores.argmax(-1).MoveToOuterDisposeScope();

        scores = scores.DividedBy(options.Temperature);
        if (options.TopK > 0 && options.TopK < scores.shape[1])
        {
            using var negativeInfinity = double.NegativeInfinity.ToScalar();
            var kth = scores.topk(options.TopK, dim: -1).values[.., ^1..];
            scores = scores.masked_fill(scores < kth, negativeInfinity);
        }
        if (options.TopP < 1.0)
        {
            using var negativeInfinity = double.NegativeInfinity.ToScalar();
            using var topP = options.TopP.ToScalar();
            var (sorted, order) = scores.sort(-1, descending: true);
            var probs = sorted.softmax(-1);
            // Drop a token when the tokens ranked above it already reach p (the top token always stays).
            var remove = (probs.cumsum(-1) - probs) > topP;
            var removeInVocabOrder = zeros_like(remove).scatter(1, order, remove);
            scores = scores.masked_fill(removeInVocabOrder, negativeInfinity);
        }
        return multinomial(scores.softmax(-1), 1, generator: generator).squeeze(-1).MoveToOuterDisposeScope();
    }
}
