using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace PeftHost.Core.Tokenization;

/// <summary>
/// A GPT-2-style byte-level BPE (GPT-2, LLaMA-3, Qwen) run as Hugging Face runs it: added tokens cut out
/// first (longest first); every other section normalized (NFC where configured), split by the
/// pre-tokenizer's regular expression (matches and the text between them), each piece's UTF-8 bytes
/// written in the byte-to-unicode alphabet and merged by <see cref="BpeMerger"/> (a piece that is itself
/// a token is taken whole when the model says <c>ignore_merges</c>). Decoding maps the characters back to
/// bytes; added tokens decode as their text.
/// </summary>
/// <remarks>
/// Own code rather than Microsoft.ML.Tokenizers' BPE, which has no <c>ignore_merges</c> (LLaMA-3 gave
/// "Việt" as three tokens where Hugging Face gives one) and drops non-special added tokens when decoding.
/// </remarks>
internal sealed class ByteLevelBpe : ITokenCodec
{
    /// <summary>Words at most this long are cached; the cache is emptied when it holds this many.</summary>
    private const int CachedWordLength = 256, CacheCapacity = 100_000;

    private static readonly char[] CharOfByte = BytesToUnicode();
    private static readonly Dictionary<char, byte> ByteOfChar =
        Enumerable.Range(0, 256).ToDictionary(b => CharOfByte[b], b => (byte)b);

    private readonly Dictionary<int, string> _tokens = [];
    private readonly IReadOnlyDictionary<string, int> _vocabulary;
    private readonly int[] _idOfByte = new int[256];
    private readonly BpeMerger _merger;
    private readonly AddedTokenSplitter _splitter;
    private readonly HashSet<int> _addedIds;
    private readonly Regex _split;
    private readonly Func<string, string>? _normalize;
    private readonly bool _addPrefixSpace;
    private readonly bool _ignoreMerges;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    /// <summary>Builds the tokenizer.</summary>
    /// <param name="vocabulary">Token → id, tokens in the byte-to-unicode alphabet.</param>
    /// <param name="merges">The merges, highest priority first.</param>
    /// <param name="addedTokens">Tokens matched whole in the input.</param>
    /// <param name="splitPattern">The pre-tokenizer regular expression.</param>
    /// <param name="normalize">Applied to each section before the split, if any.</param>
    /// <param name="addPrefixSpace">Put a space in front of a section that does not start with one.</param>
    /// <param name="ignoreMerges">A piece that is a token is taken whole, unmerged.</param>
    /// <exception cref="ArgumentException">A byte has no token, or a merge names a token that is not in the vocabulary.</exception>
    public ByteLevelBpe(
        IReadOnlyDictionary<string, int> vocabulary, IEnumerable<(string Left, string Right)> merges,
        IReadOnlyList<AddedToken> addedTokens, string splitPattern,
        Func<string, string>? normalize = null, bool addPrefixSpace = false, bool ignoreMerges = false)
    {
        _vocabulary = vocabulary;
        for (var b = 0; b < 256; b++)
        {
            _idOfByte[b] = vocabulary.TryGetValue(CharOfByte[b].ToString(), out var id) ? id
                : throw new ArgumentException($"the vocabulary has no token for the byte 0x{b:X2} (\"{CharOfByte[b]}\"); a byte-level BPE needs all 256");
        }
        var ranked = new List<(int, int, int)>();
        foreach (var (left, right) in merges)
        {
            if (!vocabulary.TryGetValue(left, out var leftId) || !vocabulary.TryGetValue(right, out var rightId))
                throw new ArgumentException($"the merge \"{left} {right}\" names a token that is not in the vocabulary");
            if (vocabulary.TryGetValue(left + right, out var merged))
                ranked.Add((leftId, rightId, merged));
        }
        _merger = new BpeMerger(ranked);
        _splitter = new AddedTokenSplitter(addedTokens);
        _addedIds = addedTokens.Select(t => t.Id).ToHashSet();
        foreach (var (token, id) in vocabulary)
            _tokens[id] = token;
        foreach (var token in addedTokens)
            _tokens[token.Id] = token.Content;
        _split = new Regex(splitPattern, RegexOptions.Compiled);
        _normalize = normalize;
        _addPrefixSpace = addPrefixSpace;
        _ignoreMerges = ignoreMerges;
    }

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>();
        foreach (var (section, added) in _splitter.Split(text))
        {
            if (added is not null)
            {
                ids.Add(added.Id);
                continue;
            }
            var normalized = _normalize is null ? section : _normalize(section);
            if (_addPrefixSpace && !normalized.StartsWith(' '))
                normalized = " " + normalized;
            // Hugging Face's "Isolated" split: each match is a piece, and so is any text between matches.
            var end = 0;
            for (var match = _split.Match(normalized); match.Success; match = match.NextMatch())
            {
                if (match.Length == 0)
                    continue;
                if (match.Index > end)
                    EncodePiece(normalized.AsSpan(end, match.Index - end), ids);
                EncodePiece(match.ValueSpan, ids);
                end = match.Index + match.Length;
            }
            if (end < normalized.Length)
                EncodePiece(normalized.AsSpan(end), ids);
        }
        return ids;
    }

    private void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        var bytes = Encoding.UTF8.GetBytes(piece.ToArray());
        var word = string.Create(bytes.Length, bytes, static (chars, source) =>
        {
            for (var i = 0; i < source.Length; i++)
                chars[i] = CharOfByte[source[i]];
        });
        if (_ignoreMerges && _vocabulary.TryGetValue(word, out var whole))
        {
            ids.Add(whole);
            return;
        }
        if (_cache.TryGetValue(word, out var cached))
        {
            ids.AddRange(cached);
            return;
        }
        var symbols = new int[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
            symbols[i] = _idOfByte[bytes[i]];
        var merged = symbols[.._merger.Merge(symbols)];
        if (word.Length <= CachedWordLength)
        {
            if (_cache.Count >= CacheCapacity)
                _cache.Clear();
            _cache[word] = merged;
        }
        ids.AddRange(merged);
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            var token = _tokens.GetValueOrDefault(id, "");
            if (_addedIds.Contains(id))
            {
                PendingBytes.Flush(text, bytes);
                text.Append(token);
                continue;
            }
            foreach (var c in token)
            {
                if (ByteOfChar.TryGetValue(c, out var b))
                    bytes.Add(b);
            }
        }
        PendingBytes.Flush(text, bytes);
        return text.ToString();
    }

    /// <summary>GPT-2's byte → printable character table: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards.</summary>
    private static char[] BytesToUnicode()
    {
        var table = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }
}
