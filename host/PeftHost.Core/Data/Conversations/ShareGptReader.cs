using System.Text.Json.Nodes;

namespace PeftHost.Core.Data;

/// <summary>
/// ShareGPT's layout: the field <c>conversations</c> holds a JSON list of {from, value}; <c>from</c> is "human"
/// (or "user"), "gpt" (or "assistant") or "system", mapped to the roles chat templates know.
/// </summary>
public sealed class ShareGptReader : IConversationReader
{
    /// <summary>The field holding the list.</summary>
    public const string Field = "conversations";

    private static readonly Dictionary<string, string> RoleOf = new(StringComparer.Ordinal)
    {
        ["human"] = "user", ["user"] = "user", ["gpt"] = "assistant", ["assistant"] = "assistant", ["system"] = "system",
    };

    /// <inheritdoc />
    public string CacheKey => ConversationFormat.ShareGpt;

    /// <inheritdoc />
    public JsonArray Read(DataRecord record)
    {
        var list = OpenAiMessagesReader.JsonList(record, Field);
        var messages = new JsonArray();
        for (int i = 0; i < list.Count; i++)
        {
            string where = $"{Field}[{i}]";
            if (list[i] is not JsonObject turn) throw record.Error($"{where} is not an object with \"from\" and \"value\"");
            string from = OpenAiMessagesReader.RequireString(record, turn, "from", where);
            string value = OpenAiMessagesReader.RequireString(record, turn, "value", where);
            if (!RoleOf.TryGetValue(from, out var role))
                throw record.Error($"{where}: unknown speaker \"from\": \"{from}\" (known: {string.Join(", ", RoleOf.Keys)})");
            messages.Add(new JsonObject { ["role"] = role, ["content"] = value });
        }
        return ConversationFormat.Checked(messages, record, Field);
    }
}
