namespace PeftHost.Core.Data;

/// <summary>
/// Instruction/response pairs: the prompt (the template filled with the instruction and input)
/// is not supervised (labels −100), the response and the EOS after it are.
/// Too long for <see cref="MaxLength"/>: the input (or, without one, the instruction) is
/// shortened until the prompt fits in what the response leaves (at least half the length);
/// then the sequence is cut at the maximum length, which may shorten the response.
/// </summary>
/// <param name="MaxLength">The longest sequence.</param>
/// <param name="Template">How the prompt is laid out.</param>
public sealed record InstructionShape(int MaxLength, InstructionTemplate Template) : IDatasetShape
{
    /// <summary>Which fields hold the instruction, the input and the response.</summary>
    public FieldMapping Fields { get; init; } = new();

    /// <summary>Append EOS after the response.</summary>
    public bool AddEos { get; init; } = true;

    /// <inheritdoc />
    public string CacheKey => $"instruction|{MaxLength}|{Template.Name}|{Fields}|{AddEos}";

    /// <inheritdoc />
    public IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, ITokenEncoder tokenizer)
    {
        int? eos = AddEos ? tokenizer.EndOfSequence() : null;
        return records.Select(r => Example(r, tokenizer, eos)).ToList();
    }

    /// <summary>One record's example.</summary>
    public TokenizedExample Example(DataRecord record, ITokenEncoder tokenizer, int? eos)
    {
        string instruction = record.Require(Fields.Prompt);
        string? input = Fields.Input is null ? null : record.Optional(Fields.Input);
        string response = record.Require(Fields.Response);

        string prompt = Template.Format(instruction, input);
        int responseTokens = tokenizer.Encode(response, addBos: false).Count + (eos is null ? 0 : 1);
        int promptBudget = Math.Max(MaxLength - responseTokens, MaxLength / 2);
        int Count(string p) => tokenizer.Encode(p, addBos: true).Count;
        if (Count(prompt) > promptBudget)
        {
            bool shrinkInput = !string.IsNullOrEmpty(input);
            string target = shrinkInput ? input! : instruction;
            string? fitted = TextFitter.Fit(target,
                t => Count(shrinkInput ? Template.Format(instruction, t) : Template.Format(t, input)), promptBudget);
            if (fitted is null)
                throw record.Error($"the prompt template alone is longer than {promptBudget} tokens (max length {MaxLength})");
            prompt = shrinkInput ? Template.Format(instruction, fitted) : Template.Format(fitted, input);
        }
        var (ids, promptLength) = PromptCompletion.Tokenize(tokenizer, prompt, response, eos);
        if (ids.Length > MaxLength) ids = ids[..MaxLength];
        return PromptCompletion.Masked(ids, promptLength);
    }
}
