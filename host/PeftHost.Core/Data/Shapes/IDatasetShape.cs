namespace PeftHost.Core.Data;

/// <summary>Turns records into tokenized training examples: packed text, prompt/response pairs, classification…</summary>
public interface IDatasetShape
{
    /// <summary>Describes the shape and every option that affects its output (part of the tokenization cache key).</summary>
    string CacheKey { get; }

    /// <summary>Tokenizes <paramref name="records"/>.</summary>
    IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, ITokenEncoder tokenizer);
}
