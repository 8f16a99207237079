namespace PeftHost.Core.Generation;

/// <summary>How to decode: greedy when <see cref="Temperature"/> is 0, sampling otherwise.</summary>
public sealed record GenerationOptions
{
    /// <summary>Tokens to generate at most.</summary>
    public int MaxNewTokens { get; init; } = 64;
    /// <summary>Softmax temperature; 0 selects greedy decoding.</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches p (1 = off).</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>CTRL-style penalty on tokens already present (1 = off): positive logits divided, negative multiplied.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    /// <summary>Seed for sampling; null draws one.</summary>
    public long? Seed { get; init; }
    /// <summary>Stop a row when it produces an end-of-sequence token.</summary>
    public bool StopAtEos { get; init; } = true;
    /// <summary>The ids that end a row (with <see cref="StopAtEos"/>); null: the model's end-of-sequence ids.
    /// A chat reply also stops at end-of-turn tokens (see <c>Chat.ChatStopTokens</c>).</summary>
    public IReadOnlySet<int>? StopTokenIds { get; init; }
    /// <summary>Use the KV cache (otherwise every step recomputes the whole sequence).</summary>
    public bool UseCache { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the option that is out of range.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentException($"max new tokens must be ≥ 0, got {MaxNewTokens}");
        if (Temperature < 0 || double.IsNaN(Temperature)) throw new ArgumentException($"temperature must be ≥ 0, got {Temperature}");
        if (TopK < 0) throw new ArgumentException($"top-k must be ≥ 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p must be in (0, 1], got {TopP}");
        if (!(RepetitionPenalty > 0)) throw new ArgumentException($"repetition penalty must be > 0, got {RepetitionPenalty}");
    }
}
