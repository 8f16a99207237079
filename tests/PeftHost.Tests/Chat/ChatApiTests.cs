using PeftHost.Tests.Support;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Recipes;

namespace PeftHost.Tests.Chat;

/// <summary><c>applyChatTemplate</c> and <c>chat</c> in recipes.</summary>
public sealed class ChatApiTests : IDisposable
{
    private readonly RecipeHarness _h = new();
    private readonly ChatModelFolder _model;

    // The model folder sits beside the recipe: a recipe may read only its own folder and the workspace.
    public ChatApiTests() => _model = new ChatModelFolder(_h.Folder);

    public void Dispose()
    {
        _h.Dispose();
        _model.Dispose();
    }

    private static string Logged(string output, string tag) =>
        JsonSerializer.Deserialize<string>(Regex.Match(output, $"^{tag} (.*)$", RegexOptions.Multiline).Groups[1].Value)!;

    [Fact]
    public void ApplyChatTemplate_renders_text_and_token_ids_and_chat_answers_until_the_end_of_turn()
    {
        var run = _h.RunOk($$"""
            import { loadModel, loadTokenizer, applyChatTemplate, chat, log } from "peft";
            const dir = {{JsonSerializer.Serialize(_model.Path)}};
            const messages = [
              { role: "system", content: "You tell stories." },
              { role: "user", content: "Tell me about a cat." },
              { role: "assistant", content: " The cat was big." },
              { role: "user", content: "What did it do?" },
            ];
            const tokenizer = loadTokenizer(dir);
            log("TEXT " + JSON.stringify(applyChatTemplate(tokenizer, messages, { addGenerationPrompt: true })));
            log("PLAIN " + JSON.stringify(applyChatTemplate(tokenizer, messages)));
            log("IDS " + JSON.stringify(JSON.stringify(applyChatTemplate(tokenizer, messages, { addGenerationPrompt: true, tokenize: true }))));
            const model = loadModel(dir);
            log("REPLY " + JSON.stringify(chat(model, messages, { maxNewTokens: 24 })));
            """);
        var text = Logged(run.Out, "TEXT");
        Assert.Equal("You tell stories.\nQ: Tell me about a cat.\nA: The cat was big.</s>\nQ: What did it do?\nA:", text);
        Assert.Equal("You tell stories.\nQ: Tell me about a cat.\nA: The cat was big.</s>\nQ: What did it do?\n", Logged(run.Out, "PLAIN"));

        // Token ids: the text encoded without an added BOS (the template writes its own special tokens), as transformers does.
        var tokenizer = TokenizerLoader.Load(_model.Path);
        var ids = tokenizer.Encode(text, addBos: false);
        Assert.Equal(ids, JsonSerializer.Deserialize<int[]>(Logged(run.Out, "IDS")));

        // The reply: greedy decoding of those ids, cut at the end-of-sequence id, which is not part of the text.
        using var model = ModelLoader.Load(_model.Path);
        var generated = new TextGenerator(model).Generate([ids], new GenerationOptions { MaxNewTokens = 24, Temperature = 0, StopAtEos = false })[0];
        var end = generated.IndexOf(2);
        var expected = IncrementalDetokenizer.Continuation(tokenizer, ids, end < 0 ? generated : generated.Take(end));
        Assert.Equal(expected, Logged(run.Out, "REPLY"));
    }

    [Fact]
    public void A_model_handle_works_as_the_tokenizer_and_options_reach_the_template()
    {
        var templateFile = Path.Combine(_model.Parent, "t.jinja");
        File.WriteAllText(templateFile, "{{ greeting }} {{ tools[0].name }} {{ bos_token }}");
        var run = _h.RunOk($$"""
            import { loadModel, applyChatTemplate, log } from "peft";
            const model = loadModel({{JsonSerializer.Serialize(_model.Path)}});
            log("OUT " + JSON.stringify(applyChatTemplate(model, [{ role: "user", content: "hi" }],
              { template: {{JsonSerializer.Serialize(templateFile)}}, tools: [{ name: "f" }], context: { greeting: "hello" } })));
            """);
        Assert.Equal("hello f <s>", Logged(run.Out, "OUT"));
    }

    [Fact]
    public void A_failing_template_is_a_recipe_error_naming_the_file_and_line()
    {
        var run = _h.Run("recipe.js", $$"""
            import { loadModel, chat } from "peft";
            const model = loadModel({{JsonSerializer.Serialize(_model.Path)}});
            chat(model, [{ role: "tool", content: "x" }], { maxNewTokens: 4 });
            """);
        Assert.Equal(1, run.Code);
        Assert.Contains("chat: ", run.Err);
        Assert.Contains("chat_template.jinja: line 5: Only system, user and assistant roles are supported", run.Err);
    }

    [Fact]
    public void A_model_without_a_chat_template_is_told_how_to_give_one()
    {
        var run = _h.Run("recipe.js", """
            import { loadTokenizer, applyChatTemplate } from "peft";
            applyChatTemplate(loadTokenizer("models/stories260k"), [{ role: "user", content: "x" }]);
            """);
        Assert.Equal(1, run.Code);
        Assert.Contains("has no chat template", run.Err);
        Assert.Contains("pass { template:", run.Err);
    }

    [Fact]
    public void SetChatTemplate_is_used_by_chat_and_chat_data_and_saved_with_the_adapter()
    {
        // The bundled model has no template: setChatTemplate gives it one, as tokenizer.chat_template = … does in transformers.
        var run = _h.RunOk($$"""
            import { loadModel, setChatTemplate, getPeftModel, loadDataset, train, applyChatTemplate, chat, saveAdapter, log } from "peft";
            const model = getPeftModel(setChatTemplate(loadModel("models/stories260k"), {{JsonSerializer.Serialize(ChatModelFolder.Template)}}),
              { method: "lora", r: 2, targetModules: ["q_proj"] });
            const messages = [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello." }];
            log("TEXT " + JSON.stringify(applyChatTemplate(model, messages)));
            chat(model, [{ role: "user", content: "Hi" }], { maxNewTokens: 2 });
            train(model, loadDataset([{ messages }]), { maxSteps: 1 });
            saveAdapter(model, "adapter");
            """);
        Assert.Equal("Q: Hi\nA:Hello.</s>\n", Logged(run.Out, "TEXT"));
        var saved = Core.Chat.ChatTemplate.FromFolder(Path.Combine(_h.Output, "adapter"));
        Assert.NotNull(saved);
        Assert.Equal(ChatModelFolder.Template, saved.Source);
        Assert.Contains("tokenizer_config.json", saved.Origin);
        // The folder is a tokenizer as well: it loads and knows the base model's special tokens.
        Assert.Equal(2, TokenizerLoader.Load(Path.Combine(_h.Output, "adapter")).EosTokenIds[0]);
    }

    [Fact]
    public void Chat_data_on_a_model_without_a_template_is_told_to_set_one()
    {
        var run = _h.Run("recipe.js", """
            import { loadModel, loadDataset, evaluate } from "peft";
            evaluate(loadModel("models/stories260k"), loadDataset([{ messages: [{ role: "user", content: "x" }, { role: "assistant", content: "y" }] }]));
            """);
        Assert.Equal(1, run.Code);
        Assert.Contains("evaluate: chat data is rendered with the model's chat template, and stories260k has none; give one with setChatTemplate(model, template)", run.Err);
    }
}
