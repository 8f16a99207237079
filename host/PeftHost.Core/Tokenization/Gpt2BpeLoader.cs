using System.Text.Json;

namespace PeftHost.Core.Tokenization;

/// <summary>Loads a GPT-2-style byte-level BPE from <c>vocab.json</c> and <c>merges.txt</c>.</summary>
internal static class Gpt2BpeLoader
{
    /// <summary>GPT-2's one special token, its BOS and EOS when no config says otherwise.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>Loads the pair of files.</summary>
    /// <param name="vocabPath">vocab.json: token → id.</param>
    /// <param name="mergesPath">merges.txt: "left right" a line, an optional "#version" header.</param>
    /// <param name="addedTokens">Added tokens from tokenizer_config.json.</param>
    /// <exception cref="TokenizerFormatException">A file is missing or malformed.</exception>
    public static TokenizerModel Load(string vocabPath, string mergesPath, IReadOnlyList<AddedToken> addedTokens)
    {
        var vocabulary = ReadVocabulary(vocabPath);
        var merges = ReadMerges(mergesPath);
        var added = addedTokens.ToList();
        int? endOfText = vocabulary.TryGetValue(EndOfText, out var id) ? id : null;
        if (endOfText is { } eot && added.All(t => t.Content != EndOfText))
            added.Add(new AddedToken(eot, EndOfText, Special: true));
        var specials = added.DistinctBy(t => t.Content).ToDictionary(t => t.Content, t => t.Id);

        ByteLevelBpe tokenizer;
        try
        {
            tokenizer = new ByteLevelBpe(vocabulary, merges, added.DistinctBy(t => t.Content).ToList(), PreTokenizerPatterns.Gpt2);
        }
        catch (ArgumentException e)
        {
            throw new TokenizerFormatException(mergesPath, $"does not fit {Path.GetFileName(vocabPath)} ({e.Message})", e);
        }
        var vocabSize = vocabulary.Values.Concat(specials.Values).Max() + 1;
        return new TokenizerModel(tokenizer, TokenizerKinds.Bpe, vocabSize,
            token => specials.TryGetValue(token, out var found) || vocabulary.TryGetValue(token, out found) ? found : null)
        {
            AddedTokens = added,
            DefaultBos = endOfText,
            DefaultEos = endOfText,
        };
    }

    private static Dictionary<string, int> ReadVocabulary(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(stream);
            if (vocabulary is not { Count: > 0 })
                throw new TokenizerFormatException(path, "holds no tokens");
            foreach (var (token, id) in vocabulary)
            {
                if (id is < 0 or > TokenizerModel.MaxTokenId)
                    throw new TokenizerFormatException(path, $"token \"{token}\" has the id {id}, outside 0..{TokenizerModel.MaxTokenId}");
            }
            return vocabulary;
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"is not a JSON object of token → id ({e.Message})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFormatException(path, $"cannot be read: {e.Message}", e);
        }
    }

    private static List<(string Left, string Right)> ReadMerges(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFormatException(path, $"cannot be read: {e.Message}", e);
        }
        var merges = new List<(string, string)>(lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0 || (i == 0 && line.StartsWith("#version", StringComparison.Ordinal)))
                continue;
            if (line.Split(' ') is not [var left, var right])
                throw new TokenizerFormatException(path, $"line {i + 1} is not \"left right\": \"{line}\"");
            merges.Add((left, right));
        }
        return merges;
    }
}
