using System.Text.Json.Nodes;

namespace PeftHost.Core.Data;

/// <summary>
/// Conversations built from a record's fields: a fixed list of turns whose contents are templates with
/// <c>{field}</c> placeholders, e.g. a system prompt, "Subject: {subject}\n{body}" from the user, "{label}" from
/// the assistant. Turns data of any shape (e-mails, tables) into chat training data.
/// </summary>
public sealed class FieldConversationReader : IConversationReader
{
    private readonly IReadOnlyList<(string Role, PromptTemplate Content)> _turns;

    /// <summary>The turns as (role, content template).</summary>
    public FieldConversationReader(IReadOnlyList<(string Role, PromptTemplate Content)> turns)
    {
        if (turns.Count == 0) throw new ArgumentException("a conversation template needs at least one turn");
        if (turns.All(t => t.Role != "assistant")) throw new ArgumentException("a conversation template needs an assistant turn to learn from");
        _turns = turns;
    }

    /// <summary>The fields the templates read, in order of appearance.</summary>
    public IReadOnlyList<string> Fields => _turns.SelectMany(t => t.Content.Fields).Distinct().ToArray();

    /// <inheritdoc />
    public string CacheKey => "fields|" + string.Join("|", _turns.Select(t => $"{t.Role}={t.Content.Text}"));

    /// <inheritdoc />
    public JsonArray Read(DataRecord record) => Read(record, f => record.Require(f));

    /// <summary>The conversation with the fields' values given by <paramref name="valueOf"/> (a shortened field, for instance).</summary>
    public JsonArray Read(DataRecord record, Func<string, string> valueOf)
    {
        var messages = new JsonArray();
        foreach (var (role, content) in _turns) messages.Add(new JsonObject { ["role"] = role, ["content"] = content.Format(valueOf) });
        return ConversationFormat.Checked(messages, record, "the conversation");
    }
}
