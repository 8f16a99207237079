namespace PeftHost.Core.Tokenization;

/// <summary>How a Hugging Face BPE treats bytes and whitespace.</summary>
internal enum HfBpeStyle
{
    /// <summary>GPT-2 style: bytes mapped to printable characters, a regex split first.</summary>
    ByteLevel,
    /// <summary>SentencePiece style (LLaMA-2): spaces as ▁, unknown characters as &lt;0xNN&gt; bytes.</summary>
    SentencePiece,
}

/// <summary>The parts of a Hugging Face <c>tokenizer.json</c> BPE that the loader uses.</summary>
internal sealed record HfTokenizerJson
{
    /// <summary>model.vocab: token → id.</summary>
    public required Dictionary<string, int> Vocabulary { get; init; }
    /// <summary>model.merges, highest priority first.</summary>
    public required List<(string Left, string Right)> Merges { get; init; }
    /// <summary>added_tokens.</summary>
    public required IReadOnlyList<AddedToken> AddedTokens { get; init; }
    /// <summary>model.unk_token.</summary>
    public string? UnkToken { get; init; }
    /// <summary>model.ignore_merges: a pre-tokenized piece that is a token is taken whole.</summary>
    public bool IgnoreMerges { get; init; }
    /// <summary>model.byte_fallback: unknown characters become &lt;0xNN&gt; pieces.</summary>
    public bool ByteFallback { get; init; }
    /// <summary>Byte-level or SentencePiece style.</summary>
    public HfBpeStyle Style { get; init; }
    /// <summary>The byte-level split pattern.</summary>
    public string SplitPattern { get; init; } = PreTokenizerPatterns.Gpt2;
    /// <summary>Byte-level: add_prefix_space.</summary>
    public bool AddPrefixSpace { get; init; }
    /// <summary>SentencePiece style: where a dummy ▁ goes in front of text.</summary>
    public DummyPrefix Prefix { get; init; }
    /// <summary>SentencePiece style: how many leading spaces decoding strips.</summary>
    public int StripLeadingSpaces { get; init; }
    /// <summary>Byte-level: an NFC normalizer.</summary>
    public bool Nfc { get; init; }
    /// <summary>Whether the post-processor template starts with a special token; null when there is no template.</summary>
    public bool? TemplateAddsBos { get; init; }
    /// <summary>The special token the template starts with.</summary>
    public string? TemplateBos { get; init; }
}
