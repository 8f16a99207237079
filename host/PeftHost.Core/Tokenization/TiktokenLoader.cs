using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace PeftHost.Core.Tokenization;

/// <summary>
/// Loads a tiktoken rank file (a base64 token and its rank per line). The file does not say how
/// text is split: a known encoding name (<c>gpt2</c>, <c>r50k_base</c>, <c>p50k_base</c>,
/// <c>cl100k_base</c>, <c>o200k_base</c>) brings its own split and special tokens; any other file is
/// split as cl100k and LLaMA-3 split.
/// </summary>
internal static class TiktokenLoader
{
    private static readonly Dictionary<string, string> ModelOfEncoding = new(StringComparer.OrdinalIgnoreCase)
    {
        ["gpt2"] = "gpt2",
        ["r50k_base"] = "gpt2",
        ["p50k_base"] = "text-davinci-003",
        ["cl100k_base"] = "gpt-4",
        ["o200k_base"] = "gpt-4o",
    };

    /// <summary>True when <paramref name="path"/> starts like a tiktoken file rather than a protobuf.</summary>
    public static bool LooksLikeTiktoken(string path)
    {
        var head = new byte[128];
        int read;
        try
        {
            using var stream = File.OpenRead(path);
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // the SentencePiece loader reports the read error
        }
        var text = Encoding.ASCII.GetString(head, 0, read);
        var newline = text.IndexOf('\n');
        return newline > 0 && Regex.IsMatch(text[..newline], @"^[A-Za-z0-9+/]+=* \d+\r?$");
    }

    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <param name="path">The rank file; its name (without extension) picks the encoding.</param>
    /// <param name="addedTokens">Special tokens from tokenizer_config.json.</param>
    /// <exception cref="TokenizerFormatException">The file is malformed.</exception>
    public static TokenizerModel Load(string path, IReadOnlyList<AddedToken> addedTokens)
    {
        var maxRank = ReadMaxRank(path);
        var extra = addedTokens.DistinctBy(t => t.Content).ToDictionary(t => t.Content, t => t.Id);
        TiktokenTokenizer tokenizer;
        try
        {
            using var stream = File.OpenRead(path);
            tokenizer = ModelOfEncoding.TryGetValue(Path.GetFileNameWithoutExtension(path), out var model)
                ? TiktokenTokenizer.CreateForModel(model, stream, extra.Count > 0 ? extra : null)
                : TiktokenTokenizer.Create(stream,
                    new RegexPreTokenizer(new Regex(PreTokenizerPatterns.Cl100k, RegexOptions.Compiled), extra.Count > 0 ? extra : null),
                    normalizer: null, specialTokens: extra);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new TokenizerFormatException(path, $"is not a tiktoken file that loads ({e.GetType().Name}: {e.Message})", e);
        }
        var specials = tokenizer.SpecialTokens ?? new Dictionary<string, int>();
        int? endOfText = specials.TryGetValue(Gpt2BpeLoader.EndOfText, out var eot) ? eot : null;
        return new TokenizerModel(new LibraryTokenCodec(tokenizer), TokenizerKinds.Tiktoken, Math.Max(maxRank, specials.Values.DefaultIfEmpty(0).Max()) + 1,
            token => specials.TryGetValue(token, out var id) ? id : tokenizer.EncodeToIds(token) is [var single] ? single : null)
        {
            AddedTokens = specials.Select(pair => new AddedToken(pair.Value, pair.Key, Special: true)).ToArray(),
            DefaultBos = endOfText,
            DefaultEos = endOfText,
        };
    }

    private static int ReadMaxRank(string path)
    {
        IEnumerable<string> lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFormatException(path, $"cannot be read: {e.Message}", e);
        }
        var maxRank = -1;
        var lineNumber = 0;
        var singleBytes = new bool[256];
        foreach (var line in lines)
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            var space = line.IndexOf(' ');
            if (space <= 0 || !int.TryParse(line.AsSpan(space + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rank))
                throw new TokenizerFormatException(path, $"line {lineNumber} is not \"<base64 token> <rank>\"");
            if (rank > TokenizerModel.MaxTokenId)
                throw new TokenizerFormatException(path, $"line {lineNumber}: rank {rank} is above {TokenizerModel.MaxTokenId}");
            var token = new byte[space];
            if (!Convert.TryFromBase64Chars(line.AsSpan(0, space), token, out int length) || length == 0)
                throw new TokenizerFormatException(path, $"line {lineNumber}: the token is not base64");
            if (length == 1) singleBytes[token[0]] = true;
            maxRank = Math.Max(maxRank, rank);
        }
        if (maxRank < 0) throw new TokenizerFormatException(path, "holds no tokens");
        // Byte-level BPE starts from one token a byte: without one, encoding text with that byte fails (or never ends).
        int missing = Array.IndexOf(singleBytes, false);
        if (missing >= 0) throw new TokenizerFormatException(path, $"has no token for the byte 0x{missing:X2}; every one of the 256 bytes needs a token");
        return maxRank;
    }
}
