namespace PeftHost.Core.Tokenization;

/// <summary>The special token ids of a tokenizer and whether encoding starts with BOS.</summary>
/// <param name="Bos">Beginning-of-sequence id, if the tokenizer has one.</param>
/// <param name="Eos">End-of-sequence ids (generation stops at any of them); may be empty.</param>
/// <param name="Pad">Padding id, if one is configured.</param>
/// <param name="AddBos">Encoding puts <paramref name="Bos"/> first by default; false when there is no BOS.</param>
/// <param name="All">Every id that decoding drops when it skips special tokens.</param>
public sealed record SpecialTokenIds(int? Bos, IReadOnlyList<int> Eos, int? Pad, bool AddBos, IReadOnlySet<int> All)
{
    /// <summary>No special tokens at all.</summary>
    public static SpecialTokenIds None { get; } = new(null, [], null, false, new HashSet<int>());
}
