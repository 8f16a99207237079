using System.Text.Json.Nodes;

namespace PeftHost.Core.Data;

/// <summary>
/// An Alpaca record as a one-turn conversation: an optional <c>system</c> message, the user's <c>instruction</c>
/// (followed by a blank line and the <c>input</c> when there is one), the assistant's <c>output</c>.
/// </summary>
public sealed class AlpacaConversationReader : IConversationReader
{
    /// <summary>The instruction field.</summary>
    public const string InstructionField = "instruction";

    /// <summary>The response field.</summary>
    public const string OutputField = "output";

    /// <inheritdoc />
    public string CacheKey => ConversationFormat.Alpaca;

    /// <inheritdoc />
    public JsonArray Read(DataRecord record)
    {
        string instruction = record.Require(InstructionField);
        string? input = record.Optional("input");
        var messages = new JsonArray();
        if (record.Optional("system") is { Length: > 0 } system) messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        messages.Add(new JsonObject { ["role"] = "user", ["content"] = string.IsNullOrEmpty(input) ? instruction : $"{instruction}\n\n{input}" });
        messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = record.Require(OutputField) });
        return messages;
    }
}
