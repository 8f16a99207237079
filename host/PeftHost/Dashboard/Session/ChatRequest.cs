using System.Text.Json.Nodes;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>One finished turn of a side-by-side chat: what the user said and what each answer replied.</summary>
/// <param name="User">The user's message.</param>
/// <param name="AdapterReply">The reply of the model with its adapter; null when only the base answered (no adapter was active).</param>
/// <param name="BaseReply">The base model's reply.</param>
public sealed record ChatExchange(string User, string? AdapterReply, string BaseReply);

/// <summary>
/// A chat turn for the Playground: the system prompt, the conversation so far and the new user message. The two
/// answers keep separate histories: each lane sees the same user turns and its own earlier replies, as two
/// independent conversations would (a turn the adapter did not answer counts the base reply in both).
/// </summary>
/// <param name="SystemPrompt">The system prompt (the conversation's first message), or null for none.</param>
/// <param name="History">The earlier turns, oldest first.</param>
/// <param name="Message">The new user message.</param>
public sealed record ChatRequest(string? SystemPrompt, IReadOnlyList<ChatExchange> History, string Message)
{
    /// <summary>The conversation as <paramref name="lane"/> saw it, ending with the new user message (role/content objects).</summary>
    public JsonArray Messages(GenerationLane lane)
    {
        var messages = new JsonArray();
        if (!string.IsNullOrEmpty(SystemPrompt)) messages.Add(Turn("system", SystemPrompt));
        foreach (var turn in History)
        {
            messages.Add(Turn("user", turn.User));
            messages.Add(Turn("assistant", lane == GenerationLane.Adapter ? turn.AdapterReply ?? turn.BaseReply : turn.BaseReply));
        }
        messages.Add(Turn("user", Message));
        return messages;
    }

    private static JsonObject Turn(string role, string content) => new() { ["role"] = role, ["content"] = content };
}
