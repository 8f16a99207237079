namespace PeftHost.Core.Data;

/// <summary>How causal-LM text becomes sequences.</summary>
public enum CausalLayout
{
    /// <summary>
    /// Documents (each BOS … EOS) are concatenated and cut into blocks of exactly the maximum
    /// length; the incomplete last block is dropped unless it is the only one.
    /// </summary>
    Packed,

    /// <summary>One sequence per document, truncated to the maximum length; batches pad them.</summary>
    TruncateAndPad,
}

/// <summary>Plain text for causal language modelling: every token is supervised.</summary>
/// <param name="MaxLength">Block size (packed) or truncation length.</param>
/// <param name="Layout">Packed blocks or one truncated sequence per document.</param>
public sealed record CausalTextShape(int MaxLength, CausalLayout Layout = CausalLayout.Packed) : IDatasetShape
{
    /// <summary>The field holding the text.</summary>
    public string TextField { get; init; } = "text";

    /// <summary>Put BOS before each document.</summary>
    public bool AddBos { get; init; } = true;

    /// <summary>Put EOS after each document.</summary>
    public bool AddEos { get; init; } = true;

    /// <inheritdoc />
    public string CacheKey => $"causal|{MaxLength}|{Layout}|{TextField}|{AddBos}|{AddEos}";

    /// <inheritdoc />
    public IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, ITokenEncoder tokenizer)
    {
        if (MaxLength < 2) throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, "must be at least 2");
        int? eos = AddEos ? tokenizer.EndOfSequence() : null;
        return Layout == CausalLayout.Packed ? Pack(records, tokenizer, eos) : Truncate(records, tokenizer, eos);
    }

    /// <summary>Tokens per window when the text is scored whole: <see cref="MaxLength"/>, at most the model's <paramref name="context"/>.</summary>
    public int ScoringWindow(int context) => Math.Min(MaxLength, context);

    /// <summary>
    /// The text as token streams to score whole (<c>evaluate</c>), nothing cut or dropped: all documents as one
    /// stream when packed (as training reads them), one stream per document otherwise.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<int>> TokenStreams(IEnumerable<DataRecord> records, ITokenEncoder tokenizer)
    {
        int? eos = AddEos ? tokenizer.EndOfSequence() : null;
        var documents = records.Select(r => Document(r, tokenizer, eos));
        IReadOnlyList<IReadOnlyList<int>> streams = Layout == CausalLayout.Packed
            ? [documents.SelectMany(d => d).ToList()]
            : documents.Where(d => d.Count >= 2).ToList<IReadOnlyList<int>>();
        if (streams.All(s => s.Count < 2)) throw new ArgumentException("the text has no token to predict");
        return streams;
    }

    private List<TokenizedExample> Truncate(IEnumerable<DataRecord> records, ITokenEncoder tokenizer, int? eos)
    {
        var examples = new List<TokenizedExample>();
        foreach (var record in records)
        {
            var ids = Document(record, tokenizer, eos);
            if (ids.Count < 2) continue; // nothing to predict
            examples.Add(TokenizedExample.FullySupervised(ids.Take(MaxLength).ToArray()));
        }
        return examples;
    }

    private List<TokenizedExample> Pack(IEnumerable<DataRecord> records, ITokenEncoder tokenizer, int? eos)
    {
        var examples = new List<TokenizedExample>();
        var pending = new List<int>();
        foreach (var record in records)
        {
            pending.AddRange(Document(record, tokenizer, eos));
            int full = pending.Count / MaxLength;
            for (int b = 0; b < full; b++)
                examples.Add(TokenizedExample.FullySupervised(pending.GetRange(b * MaxLength, MaxLength).ToArray()));
            pending.RemoveRange(0, full * MaxLength);
        }
        if (examples.Count == 0 && pending.Count >= 2)
            examples.Add(TokenizedExample.FullySupervised(pending.ToArray()));
        return examples;
    }

    private List<int> Document(DataRecord record, ITokenEncoder tokenizer, int? eos)
    {
        var ids = new List<int>(tokenizer.Encode(record.Require(TextField), AddBos));
        if (eos is int e) ids.Add(e);
        return ids;
    }
}
