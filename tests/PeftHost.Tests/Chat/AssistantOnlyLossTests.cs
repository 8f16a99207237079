using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftHost.Core.Chat;
using PeftHost.Core.Data;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Recipes;

namespace PeftHost.Tests.Chat;

/// <summary>The loss of chat data is on the assistant's turns only (by default), located through the chat template.</summary>
public sealed class AssistantOnlyLossTests : IDisposable
{
    private readonly RecipeHarness _h = new();
    private readonly ChatModelFolder _model;

    public AssistantOnlyLossTests() => _model = new ChatModelFolder(_h.Folder);

    public void Dispose()
    {
        _h.Dispose();
        _model.Dispose();
    }

    private static JsonArray Conversation(string lastUser = "Thank you!", string firstAnswer = "The cat sat on the mat.") =>
    [
        new JsonObject { ["role"] = "system", ["content"] = "You tell stories." },
        new JsonObject { ["role"] = "user", ["content"] = "Where did the cat sit?" },
        new JsonObject { ["role"] = "assistant", ["content"] = firstAnswer },
        new JsonObject { ["role"] = "user", ["content"] = "And the dog?" },
        new JsonObject { ["role"] = "assistant", ["content"] = "The dog ran to the park." },
        new JsonObject { ["role"] = "user", ["content"] = lastUser },
    ];

    /// <summary>Loss of the conversations through a recipe: loadDataset + evaluate.</summary>
    private double Loss(IEnumerable<JsonArray> conversations, bool responsesOnly = true)
    {
        var records = new JsonArray(conversations.Select(c => (JsonNode)new JsonObject { ["messages"] = c.DeepClone() }).ToArray());
        var run = _h.RunOk($$"""
            import { loadModel, loadDataset, evaluate, log } from "peft";
            const data = loadDataset({{records.ToJsonString()}}, { trainOnResponsesOnly: {{(responsesOnly ? "true" : "false")}} });
            log("LOSS " + evaluate(loadModel({{JsonSerializer.Serialize(_model.Path)}}), data).loss);
            """);
        return double.Parse(Regex.Match(run.Out, "^LOSS (.*)$", RegexOptions.Multiline).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Changing_a_user_turn_leaves_the_loss_unchanged_changing_an_assistant_turn_changes_it()
    {
        double loss = Loss([Conversation()]);
        // The last user turn comes after every answer: with the loss on answers only, it cannot matter.
        Assert.Equal(loss, Loss([Conversation(lastUser: "Tell me a much longer story about a big red fox, please.")]), 5);
        Assert.NotEqual(loss, Loss([Conversation(firstAnswer: "The cat sat in a tree.")]), 3);
        // Trained on everything, the same user change changes the loss.
        Assert.NotEqual(Loss([Conversation()], responsesOnly: false),
            Loss([Conversation(lastUser: "Tell me a much longer story about a big red fox, please.")], responsesOnly: false), 3);
    }

    [Fact]
    public void Supervised_tokens_are_exactly_each_answer_and_its_end_of_turn_in_every_turn()
    {
        var tokenizer = TokenizerLoader.Load(_model.Path);
        var template = ChatTemplate.FromFolder(_model.Path)!;
        var record = new DataRecord(new Dictionary<string, string?> { ["messages"] = Conversation().ToJsonString() }, "test", 1);
        var example = new ConversationShape(512, new OpenAiMessagesReader()) { Template = template }.Example(record, tokenizer.AsTokenEncoder());

        // Runs of supervised positions, decoded: one per assistant turn, each its content and the end-of-sequence token.
        var runs = new List<List<int>>();
        for (int t = 0; t < example.Length; t++)
        {
            if (example.Labels[t] == TokenizedExample.IgnoreIndex) continue;
            if (t == 0 || example.Labels[t - 1] == TokenizedExample.IgnoreIndex) runs.Add([]);
            runs[^1].Add(example.Labels[t]);
        }
        Assert.Equal(2, runs.Count);
        Assert.Equal("The cat sat on the mat.</s>", tokenizer.Decode(runs[0], skipSpecialTokens: false).Trim());
        Assert.Equal("The dog ran to the park.</s>", tokenizer.Decode(runs[1], skipSpecialTokens: false).Trim());
        Assert.Equal(tokenizer.Encode(template.Render(Conversation(), addGenerationPrompt: false), addBos: false), example.InputIds);
    }

    [Fact]
    public void A_template_that_rewrites_earlier_turns_is_refused_not_guessed()
    {
        // Like templates that drop past reasoning: the last assistant turn is rendered differently from earlier ones.
        var template = ChatTemplate.Parse("""
            {%- for m in messages %}{{ m.role }}: {% if loop.last %}{{ m.content }}{% else %}{{ m.content[:3] }}{% endif %}
            {% endfor %}{% if add_generation_prompt %}assistant:{% endif %}
            """, "rewriting.jinja");
        var error = Assert.Throws<ChatTemplateException>(() => AssistantSpans.Render(template, Conversation()));
        Assert.Contains("rewriting.jinja", error.Message);
        Assert.Contains("trainOnResponsesOnly: false", error.Message);
    }
}

/// <summary>Assistant spans on the hand-written copies of real templates (ChatML, Mistral-instruct, Phi-3, Zephyr, Llama-2-chat).</summary>
public sealed class AssistantSpansTemplateTests
{
    // The Llama 3.1 tools template needs tool schemas, which training conversations do not carry.
    public static TheoryData<string> Templates() => new(ChatTemplateCorpus.HandWritten.Keys.Where(k => k != "llama-3.1-tools"));

    [Theory]
    [MemberData(nameof(Templates))]
    public void Each_span_is_one_answer_with_its_end_of_turn_and_nothing_of_the_users(string name)
    {
        var template = ChatTemplate.Parse(ChatTemplateCorpus.HandWritten[name], name,
            new Dictionary<string, string> { ["bos_token"] = "<s>", ["eos_token"] = "</s>" });
        JsonArray messages =
        [
            new JsonObject { ["role"] = "user", ["content"] = "Where did the cat sit?" },
            new JsonObject { ["role"] = "assistant", ["content"] = "On the mat." },
            new JsonObject { ["role"] = "user", ["content"] = "And the dog?" },
            new JsonObject { ["role"] = "assistant", ["content"] = "In the park." },
        ];
        var rendered = AssistantSpans.Render(template, messages);
        Assert.Equal(2, rendered.Spans.Count);
        string[] answers = ["On the mat.", "In the park."];
        for (int i = 0; i < 2; i++)
        {
            var (start, end) = rendered.Spans[i];
            var span = rendered.Text[start..end];
            Assert.StartsWith(answers[i], span.TrimStart());
            Assert.True(span.Length > answers[i].Length, $"{name}: span {i} '{span}' has no end-of-turn marker");
            Assert.DoesNotContain("cat sit", span);
            Assert.DoesNotContain("dog", span);
        }
    }
}
