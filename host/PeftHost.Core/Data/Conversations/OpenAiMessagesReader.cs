using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.IO;

namespace PeftHost.Core.Data;

/// <summary>
/// OpenAI's chat layout: the field <c>messages</c> holds a JSON list of objects with a <c>role</c> and a string
/// <c>content</c> (other keys, such as <c>tool_calls</c> or <c>name</c>, are passed to the template unchanged).
/// </summary>
public sealed class OpenAiMessagesReader : IConversationReader
{
    /// <summary>The field holding the list.</summary>
    public const string Field = "messages";

    /// <inheritdoc />
    public string CacheKey => ConversationFormat.OpenAi;

    /// <inheritdoc />
    public JsonArray Read(DataRecord record)
    {
        var list = JsonList(record, Field);
        var messages = new JsonArray();
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] is not JsonObject message)
                throw record.Error($"{Field}[{i}] is not an object with \"role\" and \"content\"");
            RequireString(record, message, "role", $"{Field}[{i}]");
            RequireString(record, message, "content", $"{Field}[{i}]");
            messages.Add(message.DeepClone());
        }
        return ConversationFormat.Checked(messages, record, Field);
    }

    /// <summary>The JSON list in <paramref name="field"/> (JSONL keeps nested values as JSON text; Parquet lists arrive the same way).</summary>
    internal static JsonArray JsonList(DataRecord record, string field)
    {
        string text = record.Require(field);
        JsonNode? node;
        try { node = StrictJson.ParseNode(System.Text.Encoding.UTF8.GetBytes(text)); }
        catch (JsonException) { node = null; }
        return node as JsonArray ?? throw record.Error($"field '{field}' is not a JSON list of messages");
    }

    /// <summary>The string <paramref name="key"/> of <paramref name="message"/>; absent or another kind is an error.</summary>
    internal static string RequireString(DataRecord record, JsonObject message, string key, string where)
    {
        if (message[key] is JsonValue value && value.GetValueKind() == JsonValueKind.String) return value.GetValue<string>();
        throw record.Error(message.ContainsKey(key)
            ? $"{where}: \"{key}\" is {Describe(message[key])}, not a string"
            : $"{where} has no \"{key}\"");
    }

    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "a list",
        JsonObject => "an object",
        _ => node.GetValueKind() switch { JsonValueKind.Number => "a number", JsonValueKind.True or JsonValueKind.False => "a boolean", _ => "a value" },
    };
}
