namespace PeftHost.Core.Tokenization;

/// <summary>The role of a piece in a SentencePiece model (<c>ModelProto.SentencePiece.Type</c>).</summary>
public enum SentencePieceType
{
    /// <summary>An ordinary piece, produced by segmentation.</summary>
    Normal = 1,
    /// <summary>The unknown piece (<c>&lt;unk&gt;</c>).</summary>
    Unknown = 2,
    /// <summary>A control symbol such as <c>&lt;s&gt;</c>; never produced from text.</summary>
    Control = 3,
    /// <summary>A user-defined symbol, always kept whole.</summary>
    UserDefined = 4,
    /// <summary>A piece kept in the vocabulary but not used.</summary>
    Unused = 5,
    /// <summary>A byte-fallback piece <c>&lt;0xNN&gt;</c>.</summary>
    Byte = 6,
}

/// <summary>One vocabulary entry of a SentencePiece model; its id is its position in the model.</summary>
/// <param name="Piece">The piece text, with spaces written as U+2581 (▁).</param>
/// <param name="Score">The merge priority (BPE) or log-probability (unigram); higher wins.</param>
/// <param name="Type">What kind of piece it is.</param>
public readonly record struct SentencePiece(string Piece, float Score, SentencePieceType Type);
