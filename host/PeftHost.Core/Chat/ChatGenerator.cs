using System.Text;
using System.Text.Json.Nodes;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Chat;

/// <summary>
/// Answers a conversation with a model: renders it with the chat template (the assistant's turn opened),
/// tokenizes the text as transformers does for a rendered chat (no BOS added: the template writes its own),
/// generates until an end-of-turn or end-of-sequence id, and returns the reply text without that token.
/// </summary>
public sealed class ChatGenerator(CausalLanguageModel model, TextTokenizer tokenizer, ChatTemplate template, IReadOnlySet<int> stopTokenIds)
{
    /// <summary>The ids that end a reply.</summary>
    public IReadOnlySet<int> StopTokenIds { get; } = stopTokenIds;

    /// <summary>The template.</summary>
    public ChatTemplate Template { get; } = template;

    /// <summary>The prompt's token ids: the conversation rendered with the assistant's turn opened.</summary>
    /// <exception cref="ChatTemplateException">The messages do not suit the template.</exception>
    public IReadOnlyList<int> PromptIds(JsonArray messages, JsonArray? tools = null, JsonObject? extra = null) =>
        tokenizer.Encode(Template.Render(messages, addGenerationPrompt: true, tools, extra), addBos: false);

    /// <summary>
    /// Checks that a reply could be generated (a non-empty prompt that fits the context with room for the reply)
    /// before anything is printed or written.
    /// </summary>
    /// <exception cref="ChatTemplateException">The template fails on these messages.</exception>
    /// <exception cref="ArgumentException">The prompt is empty or too long for the model.</exception>
    public IReadOnlyList<int> Check(JsonArray messages, GenerationOptions options, JsonArray? tools = null, JsonObject? extra = null)
    {
        var ids = PromptIds(messages, tools, extra);
        new TextGenerator(model).Check([ids], Settings(options));
        return ids;
    }

    /// <summary>
    /// The assistant's reply; <paramref name="onText"/> sees it piece by piece as it is decoded, and
    /// <paramref name="onToken"/> each generated id (the closing end-of-turn id included).
    /// </summary>
    public string Reply(JsonArray messages, GenerationOptions options, Action<string>? onText = null,
        CancellationToken cancellation = default, JsonArray? tools = null, JsonObject? extra = null, Action<int>? onToken = null)
    {
        var ids = Check(messages, options, tools, extra);
        var detokenizer = new IncrementalDetokenizer(tokenizer, ids);
        var reply = new StringBuilder();
        void Emit(string text)
        {
            if (text.Length == 0) return;
            reply.Append(text);
            onText?.Invoke(text);
        }
        bool wasTraining = model.training;
        model.eval();
        try
        {
            new TextGenerator(model).Generate([ids], Settings(options), (_, token) =>
            {
                onToken?.Invoke(token);
                if (!StopTokenIds.Contains(token)) Emit(detokenizer.Add(token));
            }, cancellation);
        }
        finally
        {
            if (wasTraining) model.train();
        }
        Emit(detokenizer.Flush());
        return reply.ToString();
    }

    private GenerationOptions Settings(GenerationOptions options) => options with { StopTokenIds = StopTokenIds, StopAtEos = true };
}
