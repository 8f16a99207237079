using System.Text.Json.Nodes;
using Jint;
using Jint.Native;
using PeftHost.Core.Chat;
using PeftHost.Core.Generation;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Recipes.Sandbox;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Recipes.Api;

/// <summary><c>applyChatTemplate</c> and <c>chat</c>: conversations rendered with the model's chat template, and answered.</summary>
internal static class ChatApi
{
    private static readonly OptionSpec Template = new("template", OptionKind.String,
        "A Jinja file to use instead of the tokenizer's chat template (chat_template.jinja, else tokenizer_config.json's chat_template).");
    private static readonly OptionSpec TemplateName = new("templateName", OptionKind.String,
        "Which of tokenizer_config.json's named templates to use (default \"default\").");
    private static readonly OptionSpec Tools = new("tools", OptionKind.ObjectArray, "Tool (function) schemas, passed to the template as tools.");
    private static readonly OptionSpec Context = new("context", OptionKind.Object, "More template variables, e.g. { enable_thinking: false }.");

    /// <summary>Options of <c>applyChatTemplate</c>.</summary>
    public static readonly OptionSchema ApplyChatTemplateOptions = new("applyChatTemplate",
        new("addGenerationPrompt", OptionKind.Boolean, "Open the assistant's turn at the end, for generation (default false)."),
        new("tokenize", OptionKind.Boolean, "Return token ids instead of text (default false); the text is encoded without an added BOS, as transformers does."),
        Template, TemplateName, Tools, Context);

    /// <summary>Options of <c>chat</c>: generate's decoding options plus the template's.</summary>
    public static readonly OptionSchema ChatOptions = new("chat",
        [.. GenerationApi.GenerateOptions.Specs.Where(s => s.Name is "maxNewTokens" or "doSample" or "temperature" or "topK" or "topP" or "repetitionPenalty" or "seed" or "tokenizer"),
         Template, TemplateName, Tools, Context]);

    /// <summary>Adds the functions.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        api.Add("applyChatTemplate", s.Function("applyChatTemplate", 3, values =>
        {
            var args = new ApiArguments("applyChatTemplate", values).AtMost(3, "(tokenizer | model, messages, { addGenerationPrompt, tokenize, … })");
            var (tokenizer, folder) = TokenizerOf(s, args[0]);
            var messages = Messages(args[1], "applyChatTemplate");
            var options = ApplyChatTemplateOptions.Read(args[2]);
            var template = SetOn(s.Handles.TryGet<RecipeModel>(args[0], out var given) ? given : null, options) ?? TemplateFor(s, options, folder, "applyChatTemplate");
            var text = Guard("applyChatTemplate", () => template.Render(messages, options.Bool("addGenerationPrompt", false),
                ToolsOf(options), ContextOf(options)));
            return options.Bool("tokenize", false)
                ? JsConvert.ToJs(s.Engine, tokenizer.Encode(text, addBos: false))
                : new JsString(text);
        }));

        api.Add("setChatTemplate", s.Function("setChatTemplate", 2, values =>
        {
            var args = new ApiArguments("setChatTemplate", values).AtMost(2, "(model, template)");
            var model = ModelApi.ExpectModel(s, args[0], "setChatTemplate");
            string source = args.String(1, "template (Jinja text)");
            model.ChatTemplate = Guard("setChatTemplate", () => ChatTemplate.Parse(source, "the template given to setChatTemplate", model.Folder is null ? null : ChatTemplate.SpecialTokenStrings(model.Folder)));
            return args[0];
        }));

        api.Add("chat", s.Function("chat", 3, values =>
        {
            var args = new ApiArguments("chat", values).AtMost(3, "(model, messages, { maxNewTokens, doSample, … })");
            var model = ModelApi.ExpectModel(s, args[0], "chat");
            var messages = Messages(args[1], "chat");
            var options = ChatOptions.Read(args[2]);
            var settings = GenerationApi.ReadDecoding(options, "chat");
            var given = options.Has("tokenizer")
                ? s.Handles.Expect<TextTokenizer>(options.Raw("tokenizer"), "chat", "option 'tokenizer'", "a tokenizer from loadTokenizer")
                : null;
            var folder = given is not null && s.TokenizerFolders.TryGetValue(given, out var tokenizerFolder) ? tokenizerFolder : model.Folder;
            var template = SetOn(model, options) ?? TemplateFor(s, options, folder, "chat");
            var tools = ToolsOf(options);
            var context = ContextOf(options);
            var reply = s.Job("chat", job =>
            {
                var tokenizer = given ?? model.Tokenizer("chat");
                var stops = Guard("chat", () => ChatStopTokens.For(folder, tokenizer, model.Model.Config.EosTokenIds));
                var generator = new ChatGenerator(model.Model, tokenizer, template, stops);
                return Guard("chat", () => generator.Reply(messages, settings, null, job.Cancellation, tools, context));
            });
            return new JsString(reply);
        }));
    }

    /// <summary>A tokenizer handle (with the folder it was loaded from) or a model handle (its tokenizer and folder).</summary>
    private static (TextTokenizer Tokenizer, string? Folder) TokenizerOf(RecipeSession s, JsValue value)
    {
        if (s.Handles.TryGet<TextTokenizer>(value, out var tokenizer))
            return (tokenizer, s.TokenizerFolders.TryGetValue(tokenizer, out var folder) ? folder : null);
        var model = s.Handles.Expect<RecipeModel>(value, "applyChatTemplate", "tokenizer", "a tokenizer from loadTokenizer or a model from loadModel");
        return (s.Job("applyChatTemplate", _ => model.Tokenizer("applyChatTemplate")), model.Folder);
    }

    private static ChatTemplate TemplateFor(RecipeSession s, OptionValues options, string? folder, string caller)
    {
        if (options.String("template") is { } file)
        {
            if (options.Has("templateName")) throw new RecipeApiException($"{caller}: give either 'template' (a file) or 'templateName', not both");
            var path = s.Paths.Resolve(file, PathAccess.Read, caller);
            return Guard(caller, () => ChatTemplate.FromFile(path, folder));
        }
        if (folder is null)
            throw new RecipeApiException($"{caller}: this tokenizer has no folder to read a chat template from; pass {{ template: \"file.jinja\" }}");
        return Guard(caller, () => ChatTemplate.FromFolder(folder, options.String("templateName")))
            ?? throw new RecipeApiException($"{caller}: {folder} has no chat template (neither {ChatTemplate.TemplateFileName} nor \"chat_template\" in tokenizer_config.json); pass {{ template: \"file.jinja\" }}");
    }

    /// <summary>The template set on <paramref name="model"/> with setChatTemplate, unless the options name another.</summary>
    private static ChatTemplate? SetOn(RecipeModel? model, OptionValues options) =>
        options.Has("template") || options.Has("templateName") ? null : model?.ChatTemplate;

    /// <summary>The template a model's conversations are rendered with: the one set with setChatTemplate, else its folder's.</summary>
    public static ChatTemplate TemplateOf(RecipeModel model, string caller) =>
        model.ChatTemplate
        ?? (model.Folder is null ? null : Guard(caller, () => ChatTemplate.FromFolder(model.Folder)))
        ?? throw new RecipeApiException($"{caller}: chat data is rendered with the model's chat template, and {model.Name} has none; give one with setChatTemplate(model, template)");

    private static JsonArray Messages(JsValue value, string caller)
    {
        if (!value.IsArray()) throw new RecipeApiException($"{caller}: messages must be an array of {{ role, content }} objects, got {JsDescribe.Value(value)}");
        return (JsonArray)JsConvert.ToJson(value, "messages")!;
    }

    private static JsonArray? ToolsOf(OptionValues options) => options.Has("tools")
        ? (JsonArray)JsConvert.ToJson(options.Raw("tools"), "tools")!
        : null;

    private static JsonObject? ContextOf(OptionValues options) => options.Has("context")
        ? (JsonObject)JsConvert.ToJson(options.Raw("context"), "context")!
        : null;

    /// <summary>Runs <paramref name="work"/>, turning a template or tokenizer error into the recipe's error for <paramref name="caller"/>.</summary>
    private static T Guard<T>(string caller, Func<T> work)
    {
        try { return work(); }
        catch (ChatTemplateException e) { throw new RecipeApiException($"{caller}: {e.Message}"); }
        catch (TokenizerFormatException e) { throw new RecipeApiException($"{caller}: {e.Message}"); }
        catch (ArgumentException e) { throw new RecipeApiException($"{caller}: {e.Message}"); }
    }
}
