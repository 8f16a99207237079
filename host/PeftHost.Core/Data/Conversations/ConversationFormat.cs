using System.Text.Json.Nodes;

namespace PeftHost.Core.Data;

/// <summary>The conversation layouts datasets come in, and how to tell them apart.</summary>
public static class ConversationFormat
{
    /// <summary>OpenAI's chat layout: a <c>messages</c> list of {role, content}.</summary>
    public const string OpenAi = "messages";

    /// <summary>ShareGPT: a <c>conversations</c> list of {from, value} with from "human", "gpt" or "system".</summary>
    public const string ShareGpt = "sharegpt";

    /// <summary>Stanford Alpaca: <c>instruction</c>, optional <c>input</c>, <c>output</c> (and optional <c>system</c>).</summary>
    public const string Alpaca = "alpaca";

    /// <summary>The layouts, by the names a recipe gives them.</summary>
    public static IReadOnlyList<string> Names { get; } = [OpenAi, ShareGpt, Alpaca];

    /// <summary>The layout a record with <paramref name="fields"/> is in, or null when it is none of them.</summary>
    public static string? Detect(IReadOnlyCollection<string> fields) =>
        fields.Contains(OpenAiMessagesReader.Field) ? OpenAi
        : fields.Contains(ShareGptReader.Field) ? ShareGpt
        : fields.Contains(AlpacaConversationReader.InstructionField) && fields.Contains(AlpacaConversationReader.OutputField) ? Alpaca
        : null;

    /// <summary>The reader for the layout named <paramref name="name"/> (one of <see cref="Names"/>).</summary>
    public static IConversationReader Reader(string name) => name switch
    {
        OpenAi => new OpenAiMessagesReader(),
        ShareGpt => new ShareGptReader(),
        Alpaca => new AlpacaConversationReader(),
        _ => throw new ArgumentException($"unknown conversation layout '{name}' (layouts: {string.Join(", ", Names)})"),
    };

    /// <summary>Checks what every reader promises: roles known, contents strings, an assistant turn to learn from.</summary>
    internal static JsonArray Checked(JsonArray messages, DataRecord record, string where)
    {
        if (messages.Count == 0) throw record.Error($"{where} is empty");
        bool answered = false;
        for (int i = 0; i < messages.Count; i++)
        {
            var message = (JsonObject)messages[i]!;
            string role = message["role"]!.GetValue<string>();
            if (!Roles.Contains(role))
                throw record.Error($"{where}[{i}]: unknown role '{role}' (roles: {string.Join(", ", Roles)})");
            answered |= role == "assistant";
        }
        if (!answered) throw record.Error($"{where} has no assistant message, so there is nothing to learn from it");
        return messages;
    }

    /// <summary>The roles chat templates know.</summary>
    private static readonly string[] Roles = ["system", "user", "assistant", "tool"];
}
