using PeftHost.Core.Chat;

namespace PeftHost.Core.Data;

/// <summary>
/// Conversations for chat fine-tuning: each record is read as a list of messages (<see cref="Reader"/>), rendered
/// with the model's chat template and tokenized as a rendered chat is (no BOS added: the template writes its own).
/// By default only the assistant's turns are supervised, located in the rendered text by <see cref="AssistantSpans"/>
/// and mapped to the tokens that start inside them; every earlier turn of a multi-turn conversation is context.
/// </summary>
/// <param name="MaxLength">The longest sequence (also the packing length).</param>
/// <param name="Reader">How a record becomes messages.</param>
public sealed record ConversationShape(int MaxLength, IConversationReader Reader) : IDatasetShape
{
    /// <summary>The model's chat template; a dataset is read before a model is chosen, so it is set when tokenizing.</summary>
    public ChatTemplate? Template { get; init; }

    /// <summary>Supervise the assistant's turns only (true, the default) or every token.</summary>
    public bool TrainOnResponsesOnly { get; init; } = true;

    /// <summary>Pack several conversations into each sequence (<see cref="ExamplePacker"/>).</summary>
    public bool Packing { get; init; }

    /// <summary>
    /// With a <see cref="FieldConversationReader"/>: the field shortened until a conversation fits <see cref="MaxLength"/>
    /// (an e-mail body, say), then the others in turn. Without it, a long conversation is cut at the maximum length.
    /// </summary>
    public string? FitField { get; init; }

    /// <inheritdoc />
    public string CacheKey =>
        $"conversation|{MaxLength}|{Reader.CacheKey}|{TrainOnResponsesOnly}|{Packing}|{FitField}|{Template?.Origin}|{Template?.Source}";

    /// <inheritdoc />
    public IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, ITokenEncoder tokenizer)
    {
        if (Template is null) throw new InvalidOperationException("conversations need a chat template to be tokenized");
        var examples = records.Select(r => Example(r, tokenizer)).ToList();
        return Packing ? ExamplePacker.Pack(examples, MaxLength) : examples;
    }

    /// <summary>One record's example.</summary>
    /// <exception cref="DataFormatException">The record is not a conversation, the template fails on it, or nothing
    /// the assistant says fits in <see cref="MaxLength"/>.</exception>
    public TokenizedExample Example(DataRecord record, ITokenEncoder tokenizer)
    {
        var rendered = FitField is null ? Render(record, Reader.Read(record)) : Fitted(record, tokenizer);
        var ids = tokenizer.Encode(rendered.Text, addBos: false);
        var inputIds = ids.Take(MaxLength).ToArray();
        var labels = TrainOnResponsesOnly ? AssistantLabels(rendered, ids, tokenizer, inputIds.Length) : (int[])inputIds.Clone();
        var example = new TokenizedExample(inputIds, labels);
        if (example.PredictedTokens == 0)
            throw record.Error(TrainOnResponsesOnly && rendered.Spans.Count > 0
                ? $"no assistant token is within the first {MaxLength} tokens (the conversation has {ids.Count}); raise maxLength" + (FitField is null && Reader is FieldConversationReader ? " or name a fitField to shorten" : "")
                : "the conversation has no token to predict");
        return example;
    }

    private RenderedConversation Render(DataRecord record, System.Text.Json.Nodes.JsonArray messages)
    {
        var template = Template ?? throw new InvalidOperationException("conversations need a chat template to be tokenized");
        try { return TrainOnResponsesOnly ? AssistantSpans.Render(template, messages) : new(template.Render(messages, addGenerationPrompt: false), []); }
        catch (ChatTemplateException e) { throw record.Error(e.Message); }
    }

    /// <summary>Characters a token seldom exceeds on average: bounds how much of a long field is tokenized while fitting (a prefix that fits is retried whole).</summary>
    private const int CharactersPerTokenBound = 4;

    /// <summary>
    /// The conversation with <see cref="FitField"/> shortened until the whole fits; if that field alone cannot make
    /// room, the other fields the turns read, in turn (as <see cref="ClassificationShape"/> does).
    /// </summary>
    private RenderedConversation Fitted(DataRecord record, ITokenEncoder tokenizer)
    {
        if (Reader is not FieldConversationReader fields)
            throw new InvalidOperationException("fitField applies to conversations built from fields");
        var values = fields.Fields.ToDictionary(f => f, record.Require);
        RenderedConversation With(string field, string value) => Render(record, fields.Read(record, f => f == field ? value : values[f]));
        int Count(string field, string value) => tokenizer.Encode(With(field, value).Text, addBos: false).Count;
        foreach (var field in new[] { FitField! }.Concat(fields.Fields.Where(f => f != FitField)))
        {
            // Tokenizing a long e-mail whole is slow; a prefix of the field that is already too long bounds the search
            // as well as the whole does (the fitter assumes longer prefixes never take fewer tokens).
            string value = values[field];
            int cut = (int)Math.Min(value.Length, MaxLength * (long)CharactersPerTokenBound);
            if (cut < value.Length && char.IsHighSurrogate(value[cut - 1])) cut--;
            if (cut < value.Length && Count(field, value[..cut]) <= MaxLength) cut = value.Length;
            var fitted = TextFitter.Fit(value[..cut], v => Count(field, v), MaxLength);
            values[field] = fitted ?? "";
            if (fitted is not null) return With(field, fitted);
        }
        throw record.Error($"the conversation is longer than maxLength ({MaxLength} tokens) even with its fields empty");
    }

    /// <summary>
    /// Labels that supervise the tokens of the assistant's spans: from the first token not shared with the text
    /// before the span tokenized alone (a token merged across the start is the assistant's) to the last token that
    /// starts before the span's end.
    /// </summary>
    private static int[] AssistantLabels(RenderedConversation rendered, IReadOnlyList<int> ids, ITokenEncoder tokenizer, int length)
    {
        var labels = new int[length];
        Array.Fill(labels, TokenizedExample.IgnoreIndex);
        foreach (var (start, end) in rendered.Spans)
        {
            int first = SharedPrefix(tokenizer.Encode(rendered.Text[..start], addBos: false), ids);
            var before = tokenizer.Encode(rendered.Text[..end], addBos: false);
            int shared = SharedPrefix(before, ids);
            int last = shared + (before.Count > shared ? 1 : 0); // a token merged across the end starts inside the span
            for (int t = first; t < Math.Min(last, length); t++) labels[t] = ids[t];
        }
        return labels;
    }

    private static int SharedPrefix(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        int n = 0, limit = Math.Min(a.Count, b.Count);
        while (n < limit && a[n] == b[n]) n++;
        return n;
    }
}
