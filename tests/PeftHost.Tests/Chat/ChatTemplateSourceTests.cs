using PeftHost.Tests.Support;
using System.Text.Json.Nodes;
using PeftHost.Core.Chat;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;

namespace PeftHost.Tests.Chat;

/// <summary>Where a model's chat template comes from, what the template sees, and where a reply stops.</summary>
public sealed class ChatTemplateSourceTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static JsonArray OneUserTurn => [new JsonObject { ["role"] = "user", ["content"] = "hi" }];

    private void WriteConfig(JsonNode? chatTemplate)
    {
        var config = new JsonObject { ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["chat_template"] = chatTemplate };
        File.WriteAllText(_dir["tokenizer_config.json"], config.ToJsonString());
    }

    [Fact]
    public void Tokenizer_config_chat_template_is_rendered_with_the_special_token_strings()
    {
        WriteConfig("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}");
        var template = ChatTemplate.FromFolder(_dir.Path)!;
        Assert.Equal("<s>[user]hi</s>[assistant]", template.Render(OneUserTurn, addGenerationPrompt: true));
        Assert.Equal("<s>[user]hi</s>", template.Render(OneUserTurn, addGenerationPrompt: false));
    }

    [Fact]
    public void Named_templates_are_chosen_by_name_and_default_to_default()
    {
        WriteConfig(new JsonArray(
            new JsonObject { ["name"] = "default", ["template"] = "plain" },
            new JsonObject { ["name"] = "tool_use", ["template"] = "tools: {{ tools | length }}" }));
        Assert.Equal("plain", ChatTemplate.FromFolder(_dir.Path)!.Render(OneUserTurn, false));
        Assert.Equal("tools: 1", ChatTemplate.FromFolder(_dir.Path, "tool_use")!.Render(OneUserTurn, false, tools: [new JsonObject()]));
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromFolder(_dir.Path, "rag"));
        Assert.Contains("tokenizer_config.json: no chat template named 'rag' (it has 'default', 'tool_use')", e.Message);
    }

    [Fact]
    public void Chat_template_jinja_wins_over_tokenizer_config()
    {
        WriteConfig("from the config");
        File.WriteAllText(_dir[ChatTemplate.TemplateFileName], "from the file {{ bos_token }}\n");
        var template = ChatTemplate.FromFolder(_dir.Path)!;
        Assert.Equal("from the file <s>", template.Render(OneUserTurn, false));
        Assert.EndsWith(ChatTemplate.TemplateFileName, template.Origin);
    }

    [Fact]
    public void A_folder_without_a_template_has_none_and_a_malformed_one_is_an_error_naming_the_file()
    {
        WriteConfig(null);
        Assert.Null(ChatTemplate.FromFolder(_dir.Path));
        WriteConfig(42);
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromFolder(_dir.Path));
        Assert.Contains("tokenizer_config.json: \"chat_template\" is", e.Message);
        WriteConfig("{% for m in messages %}\n{{ m.content }}\n");
        e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromFolder(_dir.Path));
        Assert.Contains("tokenizer_config.json \"chat_template\": line 1: 'for' is not closed", e.Message);
    }

    [Fact]
    public void Messages_without_a_role_are_refused_with_their_index()
    {
        WriteConfig("x");
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromFolder(_dir.Path)!.Render([new JsonObject { ["role"] = "user" }, new JsonObject { ["content"] = "no role" }], false));
        Assert.Contains("messages[1] has no \"role\"", e.Message);
    }

    [Fact]
    public void Stop_ids_are_the_union_of_configured_eos_ids_and_end_of_turn_tokens()
    {
        File.WriteAllText(_dir["tokenizer_config.json"], """
            {"eos_token": "<|end_of_text|>", "added_tokens_decoder": {
              "5": {"content": "<|eot_id|>", "special": true}, "6": {"content": "<|im_end|>", "special": true},
              "7": {"content": "<|end_of_text|>", "special": true}, "8": {"content": "<|start_header_id|>", "special": true}}}
            """);
        File.WriteAllText(_dir["generation_config.json"], """{"eos_token_id": [9, 10]}""");
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k);
        var stops = ChatStopTokens.For(_dir.Path, tokenizer, [11]);
        Assert.Equal(new[] { 2, 5, 6, 7, 9, 10, 11 }, stops.Order());
    }

    [Fact]
    public void Generation_stops_at_any_given_stop_id()
    {
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k);
        var prompt = tokenizer.Encode("Once upon a time", addBos: true);
        var greedy = new GenerationOptions { MaxNewTokens = 12, Temperature = 0 };
        var free = new TextGenerator(model).Generate([prompt], greedy)[0];
        Assert.Equal(12, free.Count);
        var stopAt = free[4];
        var stopped = new TextGenerator(model).Generate([prompt], greedy with { StopTokenIds = new HashSet<int> { stopAt } })[0];
        Assert.Equal(free.Take(free.IndexOf(stopAt) + 1), stopped);
    }
}
