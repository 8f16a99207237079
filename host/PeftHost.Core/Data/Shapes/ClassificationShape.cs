namespace PeftHost.Core.Data;

/// <summary>
/// Classification as generation: the prompt (a template over the record's fields) is followed by
/// the label word; only the label word's tokens are supervised. When a prompt is too long, the
/// field named <see cref="FitField"/> is shortened until prompt + longest label word fit (and if
/// that field alone cannot make room, the template's other fields in turn).
/// </summary>
/// <param name="MaxLength">The longest sequence.</param>
/// <param name="Template">The prompt, e.g. <c>"{text}\nAnswer:"</c>.</param>
public sealed record ClassificationShape(int MaxLength, PromptTemplate Template) : IDatasetShape
{
    /// <summary>The field holding the label.</summary>
    public string LabelField { get; init; } = "label";

    /// <summary>Label value → the word the model should produce (e.g. "spam" → "spam"); null: the label is the word.</summary>
    public IReadOnlyDictionary<string, string>? LabelWords { get; init; }

    /// <summary>Put between the prompt and the label word.</summary>
    public string WordSeparator { get; init; } = " ";

    /// <summary>The field shortened first when a prompt is too long (the others follow in template order if that is not enough).</summary>
    public string? FitField { get; init; }

    /// <inheritdoc />
    public string CacheKey =>
        $"classification|{MaxLength}|{Template.Text}|{LabelField}|{WordSeparator}|{FitField}|" +
        (LabelWords is null ? "" : string.Join(",", LabelWords.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")));

    /// <summary>The word for <paramref name="label"/>.</summary>
    public string WordFor(string label) => LabelWords is null ? label
        : LabelWords.TryGetValue(label, out var word) ? word
        : throw new ArgumentException($"label '{label}' has no word (known: {string.Join(", ", LabelWords.Keys)})");

    /// <summary>The completion text for <paramref name="label"/>: the separator and the word.</summary>
    public string CompletionFor(string label) => WordSeparator + WordFor(label);

    /// <summary>Reads <paramref name="records"/> as prompts and gold labels.</summary>
    public IReadOnlyList<ClassificationExample> Examples(IEnumerable<DataRecord> records, ITokenEncoder tokenizer, IReadOnlyCollection<string>? labels = null)
    {
        var list = records.ToList();
        var known = labels ?? (IReadOnlyCollection<string>?)LabelWords?.Keys.ToArray() ?? list.Select(r => r.Require(LabelField)).Distinct().ToArray();
        int wordBudget = known.Count == 0 ? 0 : known.Max(l => tokenizer.Encode(CompletionFor(l), addBos: false).Count) + 1;
        return list.Select(r => Example(r, tokenizer, wordBudget)).ToList();
    }

    /// <inheritdoc />
    public IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, ITokenEncoder tokenizer) =>
        Examples(records, tokenizer).Select(e => Tokenize(e, tokenizer)).ToList();

    /// <summary>The training sequence for <paramref name="example"/>: prompt unsupervised, label word supervised.</summary>
    public TokenizedExample Tokenize(ClassificationExample example, ITokenEncoder tokenizer)
    {
        var (ids, promptLength) = PromptCompletion.Tokenize(tokenizer, example.Prompt, CompletionFor(example.Label), eos: null);
        if (ids.Length > MaxLength) ids = ids[..MaxLength];
        return PromptCompletion.Masked(ids, promptLength);
    }

    private ClassificationExample Example(DataRecord record, ITokenEncoder tokenizer, int wordBudget)
    {
        string label = record.Require(LabelField);
        if (LabelWords is not null && !LabelWords.ContainsKey(label))
            throw record.Error($"label '{label}' is not one of {string.Join(", ", LabelWords.Keys)}");
        int budget = MaxLength - wordBudget;
        string prompt = Template.Format(record);
        int Count(string p) => tokenizer.Encode(p, addBos: true).Count;
        if (Count(prompt) > budget)
        {
            // Shorten the fit field; if the prompt is still too long with it empty, the other fields in turn.
            var values = Template.Fields.ToDictionary(f => f, record.Require);
            var order = (FitField is null ? [] : new[] { FitField }).Concat(Template.Fields.Where(f => f != FitField));
            string Format(string field, string value) => Template.Format(f => f == field ? value : values[f]);
            bool fitted = false;
            foreach (var field in order)
            {
                var shortened = TextFitter.Fit(values[field], t => Count(Format(field, t)), budget);
                values[field] = shortened ?? "";
                if (shortened is not null) { fitted = true; break; }
            }
            if (!fitted) throw record.Error($"the prompt template alone is longer than {budget} tokens (max length {MaxLength})");
            prompt = Template.Format(f => values[f]);
        }
        return new ClassificationExample(prompt, label, record.Origin);
    }
}
