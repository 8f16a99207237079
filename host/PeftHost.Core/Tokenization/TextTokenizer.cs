using PeftHost.Sdk;

namespace PeftHost.Core.Tokenization;

/// <summary>
/// A model's tokenizer: the codec that segments text, together with the special tokens the model was
/// trained with and how its decoded text is cleaned up. Load one with <see cref="TokenizerLoader.Load"/>.
/// </summary>
public sealed class TextTokenizer : ITextEncoder
{
    private readonly SpecialTokenIds _special;
    private readonly ITokenCodec _codec;
    private readonly bool _cleanUpSpaces;

    /// <summary>Wraps <paramref name="codec"/>.</summary>
    /// <param name="codec">The codec that segments text and decodes ids.</param>
    /// <param name="kind">One of <see cref="TokenizerKinds"/>.</param>
    /// <param name="vocabSize">The number of ids, special tokens included (highest id + 1).</param>
    /// <param name="special">The special token ids.</param>
    /// <param name="cleanUpSpaces">Decoding removes spaces before punctuation (<c>clean_up_tokenization_spaces</c>).</param>
    internal TextTokenizer(ITokenCodec codec, string kind, int vocabSize, SpecialTokenIds special, bool cleanUpSpaces)
    {
        ArgumentNullException.ThrowIfNull(codec);
        ArgumentException.ThrowIfNullOrEmpty(kind);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        ArgumentNullException.ThrowIfNull(special);
        _codec = codec;
        _cleanUpSpaces = cleanUpSpaces;
        Kind = kind;
        VocabSize = vocabSize;
        _special = special;
    }

    /// <summary>"sentencepiece", "bpe" or "tiktoken" (see <see cref="TokenizerKinds"/>).</summary>
    public string Kind { get; }

    /// <summary>The number of ids, special tokens included (highest id + 1).</summary>
    public int VocabSize { get; }

    /// <summary>The beginning-of-sequence id, if the tokenizer has one.</summary>
    public int? BosTokenId => _special.Bos;

    /// <summary>The end-of-sequence ids; generation stops at any of them. May be empty.</summary>
    public IReadOnlyList<int> EosTokenIds => _special.Eos;

    /// <summary>The padding id, if one is configured.</summary>
    public int? PadTokenId => _special.Pad;

    /// <summary>Whether <see cref="Encode(string, bool?)"/> puts BOS first unless told otherwise.</summary>
    public bool AddBosToken => _special.AddBos;

    /// <summary>The ids <see cref="Decode"/> drops when it skips special tokens.</summary>
    public IReadOnlySet<int> SpecialTokenIds => _special.All;

    /// <summary>Token ids of <paramref name="text"/>, never with EOS.</summary>
    /// <param name="text">The text to encode.</param>
    /// <param name="addBos">Put BOS first; null follows <see cref="AddBosToken"/>. Ignored when there is no BOS.</param>
    public IReadOnlyList<int> Encode(string text, bool? addBos = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = _codec.Encode(text);
        if (!(addBos ?? AddBosToken) || BosTokenId is not { } bos)
            return ids;
        var withBos = new List<int>(ids.Count + 1) { bos };
        withBos.AddRange(ids);
        return withBos;
    }

    /// <summary>Token ids of <paramref name="text"/> without BOS or EOS.</summary>
    IReadOnlyList<int> ITextEncoder.Encode(string text) => Encode(text, addBos: false);

    /// <summary>The text of <paramref name="ids"/>.</summary>
    /// <param name="ids">Token ids.</param>
    /// <param name="skipSpecialTokens">Drop BOS, EOS, padding, unknown and other special tokens.</param>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = _codec.Decode(skipSpecialTokens ? ids.Where(id => !_special.All.Contains(id)) : ids);
        return _cleanUpSpaces ? TokenizationSpaces.CleanUp(text) : text;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Kind} tokenizer, {VocabSize} ids";
}
