using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Generation;

/// <summary>
/// Autoregressive decoding for a batch of prompts: left-padded prefill, then one token per step
/// through the KV cache (or full recomputation, for comparison), stopping at EOS or the limit.
/// </summary>
public sealed class TextGenerator(CausalLanguageModel model)
{
    /// <summary>
    /// Generates continuations of <paramref name="prompts"/> (token ids, BOS included when wanted).
    /// <paramref name="onToken"/> sees each new token as (row, id) — for streaming.
    /// Returns the new tokens of each row (EOS included when produced).
    /// </summary>
    public IReadOnlyList<List<int>> Generate(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options,
        Action<int, int>? onToken = null, CancellationToken cancellation = default)
    {
        Check(prompts, options);
        if (prompts.Count == 0) return [];
        var eos = options.StopTokenIds?.ToHashSet() ?? model.Config.EosTokenIds.ToHashSet();
        int rows = prompts.Count;
        int longest = prompts.Max(p => p.Count);
        int capacity = longest + options.MaxNewTokens;

        var results = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToList();
        var finished = new bool[rows];
        var device = model.Device;
        using var generator = options.Temperature > 0 ? new Generator((ulong)(options.Seed ?? Random.Shared.NextInt64()), device) : null;
        var processor = new LogitsProcessor(options, generator);
        bool padded = prompts.Any(p => p.Count != longest);

        using var inference = inference_mode();
        using var cache = options.UseCache ? KvCache.For(model, rows, capacity) : null;
        var (history, mask) = LeftPad(prompts, longest, device); // every row's tokens so far, and which are real
        Tensor? step = null;                                      // the tokens to feed next when decoding with the cache
        try
        {
            for (int i = 0; i < options.MaxNewTokens; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                // With the cache only the newest token goes in; without it, the whole sequence again.
                var input = step ?? history;
                var logits = model.Forward(input, padded ? mask : null, cache, lastPositionOnly: true);
                var last = logits[.., -1, ..];
                if (!last.isfinite().all().item<bool>())
                    throw new InvalidOperationException("the model's next-token scores are NaN or infinite: its weights or adapter hold non-finite values (a diverged run or a damaged file)");
                var next = processor.Next(last, history);
                long[] chosen = next.to(CPU).data<long>().ToArray();
                for (int r = 0; r < rows; r++)
                {
                    if (finished[r]) continue;
                    int token = (int)chosen[r];
                    results[r].Add(token);
                    onToken?.Invoke(r, token);
                    if (options.StopAtEos && eos.Contains(token)) finished[r] = true;
                }
                if (finished.All(f => f)) break;

                var column = next.unsqueeze(1);
                var grownHistory = cat([history, column], 1).MoveToOuterDisposeScope();
                var grownMask = cat([mask, ones_like(column)], 1).MoveToOuterDisposeScope();
                history.Dispose(); mask.Dispose(); step?.Dispose();
                history = grownHistory; mask = grownMask;
                step = cache is null ? null : column.MoveToOuterDisposeScope();
            }
        }
        finally
        {
            history.Dispose(); mask.Dispose(); step?.Dispose();
        }
        return results;
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> when <see cref="Generate"/> would refuse these prompts and options
    /// (an option out of range, an empty prompt, prompt + new tokens beyond the context), so a caller can check before writing anything.
    /// </summary>
    public void Check(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options)
    {
        options.Validate();
        if (prompts.Count == 0) return;
        if (prompts.Any(p => p.Count == 0)) throw new ArgumentException("every prompt needs at least one token (e.g. BOS)");
        int longest = prompts.Max(p => p.Count);
        // In 64 bits: max new tokens may be as large as int.MaxValue.
        if ((long)longest + options.MaxNewTokens > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"prompt ({longest} tokens) + max new tokens ({options.MaxNewTokens}) exceed the model's context of {model.Config.MaxPositionEmbeddings}");
    }

    private int PrefixAndVirtualTokens() =>
        (model.Hooks.ActiveAttentionPrefix()?.PrefixLength ?? 0) + (model.Hooks.ActiveInputEmbeddingHook()?.VirtualTokenCount ?? 0);

    /// <summary>Token ids [rows, longest] with shorter prompts padded on the left, and the mask of real tokens.</summary>
    internal static (Tensor Ids, Tensor Mask) LeftPad(IReadOnlyList<IReadOnlyList<int>> prompts, int longest, Device device)
    {
        var ids = new long[prompts.Count * longest];
        var mask = new long[prompts.Count * longest];
        for (int r = 0; r < prompts.Count; r++)
        {
            int pad = longest - prompts[r].Count;
            for (int i = 0; i < prompts[r].Count; i++)
            {
                ids[r * longest + pad + i] = prompts[r][i];
                mask[r * longest + pad + i] = 1;
            }
        }
        return (tensor(ids, [prompts.Count, longest]).to(device), tensor(mask, [prompts.Count, longest]).to(device));
    }
}
