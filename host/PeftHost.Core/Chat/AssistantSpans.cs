using System.Text.Json.Nodes;

namespace PeftHost.Core.Chat;

/// <summary>A conversation rendered for training, and where in the text each assistant turn is.</summary>
/// <param name="Text">The whole conversation as the template renders it (no generation prompt).</param>
/// <param name="Spans">Per assistant message, the characters [Start, End) the model must learn to write: from where the
/// template's generation prompt ends to the end of the turn (its end-of-turn marker included, whitespace after it not).</param>
public sealed record RenderedConversation(string Text, IReadOnlyList<(int Start, int End)> Spans);

/// <summary>
/// Finds the assistant turns in a rendered conversation from the template itself, without generation tags (few
/// real templates have <c>{% generation %}</c> blocks): the turn of message i starts where the rendering of
/// messages[..i] with the assistant's turn opened (<c>add_generation_prompt</c>) ends, and ends where the rendering of
/// messages[..i+1] ends (or, for a template that closes only the whole conversation, where that rendering and the
/// whole one part ways). That is exact for every template whose rendering of a conversation's start is a prefix of
/// the rendering of the whole; a template that rewrites earlier turns (one that drops past reasoning, say), so that
/// the turn's content is not found where it should be, is refused with an error rather than guessed at.
/// </summary>
public static class AssistantSpans
{
    /// <summary>Renders <paramref name="messages"/> with <paramref name="template"/> and locates every assistant turn.</summary>
    /// <exception cref="ChatTemplateException">The template fails on the messages, or renders a conversation's start differently
    /// from the start of the whole conversation, so the turns cannot be located exactly.</exception>
    public static RenderedConversation Render(ChatTemplate template, JsonArray messages)
    {
        string full = template.Render(messages, addGenerationPrompt: false);
        var spans = new List<(int, int)>();
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i]?["role"]?.GetValue<string>() != "assistant") continue;
            string opened = template.Render(Take(messages, i), addGenerationPrompt: true);
            string through = template.Render(Take(messages, i + 1), addGenerationPrompt: false);
            // Some templates close only the whole conversation (Phi-3 appends eos_token at the very end): the turn
            // ends where the rendering through it and the whole part ways.
            int end = CommonPrefixLength(through, full);
            string content = messages[i]?["content"]?.GetValue<string>().Trim() ?? "";
            if (!full.StartsWith(opened, StringComparison.Ordinal) || end < opened.Length
                || !full.AsSpan(opened.Length, end - opened.Length).Contains(content, StringComparison.Ordinal))
                throw new ChatTemplateException($"{template.Origin}: renders the conversation up to message {i} differently from the start of the " +
                    "whole conversation, so the assistant's turns cannot be located for assistant-only loss; train on everything (trainOnResponsesOnly: false) or use a template that renders turns independently");
            while (end > opened.Length && char.IsWhiteSpace(full[end - 1])) end--;
            spans.Add((opened.Length, end));
        }
        return new RenderedConversation(full, spans);
    }

    private static int CommonPrefixLength(string a, string b)
    {
        int n = 0, limit = Math.Min(a.Length, b.Length);
        while (n < limit && a[n] == b[n]) n++;
        return n;
    }

    private static JsonArray Take(JsonArray messages, int count)
    {
        var part = new JsonArray();
        for (int i = 0; i < count; i++) part.Add(messages[i]?.DeepClone());
        return part;
    }
}
