namespace PeftHost.Core.Tokenization;

/// <summary>
/// The trainer and normalizer settings written next to the pieces of a SentencePiece BPE model:
/// the special ids, byte fallback and how whitespace is treated.
/// </summary>
public sealed record SentencePieceModelSpec
{
    /// <summary>Id of the unknown piece; SentencePiece requires one.</summary>
    public int UnkId { get; init; }
    /// <summary>Id of the beginning-of-sequence piece, or -1 for none.</summary>
    public int BosId { get; init; } = 1;
    /// <summary>Id of the end-of-sequence piece, or -1 for none.</summary>
    public int EosId { get; init; } = 2;
    /// <summary>Id of the padding piece, or -1 for none.</summary>
    public int PadId { get; init; } = -1;
    /// <summary>Characters outside the vocabulary become <c>&lt;0xNN&gt;</c> byte pieces.</summary>
    public bool ByteFallback { get; init; } = true;
    /// <summary>A space (▁) is put in front of the text before segmentation.</summary>
    public bool AddDummyPrefix { get; init; } = true;
    /// <summary>Leading, trailing and repeated whitespace is collapsed before segmentation.</summary>
    public bool RemoveExtraWhitespaces { get; init; }
    /// <summary>Spaces are written as ▁ (U+2581).</summary>
    public bool EscapeWhitespaces { get; init; } = true;
    /// <summary>The normalization rule name; "identity" applies none.</summary>
    public string NormalizerName { get; init; } = "identity";
}
