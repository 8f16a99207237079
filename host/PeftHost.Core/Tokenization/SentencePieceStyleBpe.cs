using System.Text;

namespace PeftHost.Core.Tokenization;

/// <summary>When a SentencePiece-style BPE puts ▁ in front of a section of text.</summary>
internal enum DummyPrefix
{
    /// <summary>Never (Gemma).</summary>
    Never,
    /// <summary>Before every section between added tokens (a Prepend normalizer: LLaMA-2, Mistral).</summary>
    Always,
    /// <summary>Before the first section only (Metaspace with prepend_scheme "first").</summary>
    First,
}

/// <summary>
/// A Hugging Face SentencePiece-style BPE (the <c>tokenizer.json</c> of LLaMA-2, Mistral, Gemma) run as
/// Hugging Face runs it: added tokens cut out first (longest first), each other section written with ▁
/// for spaces (and a dummy ▁ prefix where configured), merged as one word by <see cref="BpeMerger"/>,
/// characters outside the vocabulary as &lt;0xNN&gt; byte pieces. Decoding replaces ▁ by a space, joins
/// byte pieces into UTF-8 and strips the configured leading spaces.
/// </summary>
/// <remarks>
/// Own code rather than Microsoft.ML.Tokenizers' SentencePiece tokenizer: that library merges equally
/// ranked pairs right to left, matches added tokens first-found instead of longest, drops non-special
/// added tokens ("\n\n\n", runs of ▁) when decoding, and needed the vocabulary re-serialised as a
/// SentencePiece model to load at all.
/// </remarks>
internal sealed class SentencePieceStyleBpe : ITokenCodec
{
    /// <summary>SentencePiece's whitespace symbol ▁ (U+2581).</summary>
    public const char SpaceSymbol = '\u2581';

    private readonly IReadOnlyDictionary<int, string> _tokens;
    private readonly Dictionary<int, int> _idOfCodePoint = [];
    private readonly int[] _byteIds = new int[256];
    private readonly BpeMerger _merger;
    private readonly AddedTokenSplitter _splitter;
    private readonly int? _unkId;
    private readonly bool _byteFallback;
    private readonly DummyPrefix _prefix;
    private readonly int _stripLeadingSpaces;

    /// <summary>Builds the tokenizer.</summary>
    /// <param name="tokens">Token text by id, added tokens included.</param>
    /// <param name="vocabulary">The model's token → id.</param>
    /// <param name="merges">The merges, highest priority first.</param>
    /// <param name="addedTokens">Tokens matched whole in the input.</param>
    /// <param name="unkId">The unknown token's id, if any.</param>
    /// <param name="byteFallback">Characters outside the vocabulary become byte pieces (else the unknown token).</param>
    /// <param name="prefix">Where a ▁ is put in front of text.</param>
    /// <param name="stripLeadingSpaces">How many leading spaces decoding removes (a Strip decoder).</param>
    public SentencePieceStyleBpe(
        IReadOnlyDictionary<int, string> tokens, IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<(int Left, int Right, int Merged)> merges,
        IReadOnlyList<AddedToken> addedTokens, int? unkId, bool byteFallback, DummyPrefix prefix, int stripLeadingSpaces)
    {
        _tokens = tokens;
        foreach (var (token, id) in vocabulary)
        {
            if (token.Length <= 2 && Rune.TryGetRuneAt(token, 0, out var rune) && rune.Utf16SequenceLength == token.Length)
                _idOfCodePoint.TryAdd(rune.Value, id);
        }
        for (var b = 0; b < 256; b++)
            _byteIds[b] = vocabulary.TryGetValue($"<0x{b:X2}>", out var id) ? id : -1;
        _merger = new BpeMerger(merges);
        _splitter = new AddedTokenSplitter(addedTokens);
        _unkId = unkId;
        _byteFallback = byteFallback;
        _prefix = prefix;
        _stripLeadingSpaces = stripLeadingSpaces;
    }

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>();
        var sections = _splitter.Split(text);
        for (var index = 0; index < sections.Count; index++)
        {
            var (section, added) = sections[index];
            if (added is not null)
                ids.Add(added.Id);
            else
                EncodeSection(Normalize(section, index), ids);
        }
        return ids;
    }

    private string Normalize(string section, int index)
    {
        var escaped = section.Replace(' ', SpaceSymbol);
        var prefixed = _prefix == DummyPrefix.Always || (_prefix == DummyPrefix.First && index == 0);
        return prefixed ? SpaceSymbol + escaped : escaped;
    }

    private void EncodeSection(string word, List<int> ids)
    {
        var runes = new List<Rune>(word.Length);
        foreach (var rune in word.EnumerateRunes())
            runes.Add(rune);
        var symbols = new int[runes.Count];
        for (var i = 0; i < runes.Count; i++)
            symbols[i] = _idOfCodePoint.TryGetValue(runes[i].Value, out var id) ? id : -1;
        // Unknown characters never merge (no merge names them): they stay at their positions, in order.
        var unknown = new Queue<Rune>(runes.Where((_, i) => symbols[i] < 0));
        var count = _merger.Merge(symbols);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < count; i++)
        {
            if (symbols[i] >= 0)
            {
                ids.Add(symbols[i]);
                continue;
            }
            var bytes = unknown.Dequeue().EncodeToUtf8(utf8);
            if (_byteFallback && utf8[..bytes].ToArray().All(b => _byteIds[b] >= 0))
            {
                foreach (var b in utf8[..bytes])
                    ids.Add(_byteIds[b]);
            }
            else if (_unkId is { } unk && (ids.Count == 0 || ids[^1] != unk))
                ids.Add(unk); // fuse_unk: a run of unknown characters is one unknown token
        }
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            var token = _tokens.GetValueOrDefault(id, "");
            if (IsBytePiece(token))
            {
                bytes.Add(Convert.ToByte(token.Substring(3, 2), 16));
                continue;
            }
            PendingBytes.Flush(text, bytes);
            text.Append(token.Replace(SpaceSymbol, ' '));
        }
        PendingBytes.Flush(text, bytes);
        var strip = 0;
        while (strip < _stripLeadingSpaces && strip < text.Length && text[strip] == ' ')
            strip++;
        return text.ToString(strip, text.Length - strip);
    }

    /// <summary>True for the byte-fallback pieces <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c>.</summary>
    public static bool IsBytePiece(string token)
        => token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
           && Uri.IsHexDigit(token[3]) && Uri.IsHexDigit(token[4])
           && !char.IsLower(token[3]) && !char.IsLower(token[4]);
}
