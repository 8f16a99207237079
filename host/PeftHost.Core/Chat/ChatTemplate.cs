using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Chat.Jinja;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Chat;

/// <summary>
/// A model's chat template: the Jinja text that turns a conversation (a list of {role, content} messages, optional
/// tools) into the exact prompt text the model was trained on, rendered as transformers renders it (special-token
/// strings such as <c>bos_token</c> in the context, <c>add_generation_prompt</c> to open the assistant's turn).
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>The file of a template saved on its own (transformers 4.43 and later); it wins over tokenizer_config.json's.</summary>
    public const string TemplateFileName = "chat_template.jinja";

    private const string ConfigFileName = "tokenizer_config.json";

    private readonly JinjaTemplate _template;

    private ChatTemplate(JinjaTemplate template, string origin, string source, IReadOnlyDictionary<string, string> specialTokens)
    {
        _template = template;
        Origin = origin;
        Source = source;
        SpecialTokens = specialTokens;
    }

    /// <summary>Where the template came from, as error messages name it ("…/chat_template.jinja").</summary>
    public string Origin { get; }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>The special-token strings passed to the template (<c>bos_token</c>, <c>eos_token</c>, <c>unk_token</c>, <c>pad_token</c>).</summary>
    public IReadOnlyDictionary<string, string> SpecialTokens { get; }

    /// <summary>Parses template text; <paramref name="origin"/> names it in errors.</summary>
    /// <exception cref="ChatTemplateException">The template does not parse (the message names the line).</exception>
    public static ChatTemplate Parse(string source, string origin, IReadOnlyDictionary<string, string>? specialTokens = null)
    {
        try
        {
            return new ChatTemplate(JinjaTemplate.Parse(source), origin, source, specialTokens ?? new Dictionary<string, string>());
        }
        catch (JinjaException e)
        {
            throw new ChatTemplateException($"{origin}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The template of a model or tokenizer folder: <c>chat_template.jinja</c> when present, else
    /// tokenizer_config.json's <c>chat_template</c> (a string, or a list of {name, template} from which
    /// <paramref name="name"/> is taken, "default" when not given). Null when the folder has none.
    /// </summary>
    /// <exception cref="ChatTemplateException">A template is present but unusable, or <paramref name="name"/> is not among them.</exception>
    public static ChatTemplate? FromFolder(string folder, string? name = null)
    {
        var special = SpecialTokenStrings(folder);
        var file = Path.Combine(folder, TemplateFileName);
        if (File.Exists(file) && name is null) return FromFile(file, special);

        var configPath = Path.Combine(folder, ConfigFileName);
        JsonObject? config;
        try { config = JsonFiles.ReadObjectIfExists(configPath); }
        catch (TokenizerFormatException e) { throw new ChatTemplateException(e.Message, e); }
        switch (config?["chat_template"])
        {
            case null:
                if (name is not null) throw new ChatTemplateException($"{configPath}: has no chat templates, so none named '{name}'");
                return null;
            case JsonValue text when text.GetValueKind() == JsonValueKind.String:
                if (name is not null && name != "default")
                    throw new ChatTemplateException($"{configPath}: \"chat_template\" is a single template, so none is named '{name}'");
                return Parse(text.GetValue<string>(), $"{configPath} \"chat_template\"", special);
            case JsonArray list:
                var named = new Dictionary<string, string>();
                for (var i = 0; i < list.Count; i++)
                {
                    if (list[i] is not JsonObject entry || entry["name"] is not JsonValue n || n.GetValueKind() != JsonValueKind.String
                        || entry["template"] is not JsonValue t || t.GetValueKind() != JsonValueKind.String)
                        throw new ChatTemplateException($"{configPath}: \"chat_template\"[{i}] is not an object with \"name\" and \"template\" strings");
                    named[n.GetValue<string>()] = t.GetValue<string>();
                }
                var wanted = name ?? "default";
                if (!named.TryGetValue(wanted, out var source))
                    throw new ChatTemplateException($"{configPath}: no chat template named '{wanted}' (it has {string.Join(", ", named.Keys.Select(k => $"'{k}'"))})");
                return Parse(source, $"{configPath} chat template '{wanted}'", special);
            case var other:
                throw new ChatTemplateException($"{configPath}: \"chat_template\" is {JsonFiles.Describe(other)}; expected a string or a list of {{name, template}}");
        }
    }

    /// <summary>
    /// The template a chat with a model and an adapter uses: the adapter folder's (saved with a chat fine-tune) when
    /// it has one, else the model folder's; null when neither has one.
    /// </summary>
    /// <exception cref="ChatTemplateException">A template is present but unusable, or <paramref name="name"/> is not among them.</exception>
    public static ChatTemplate? ForModel(string modelFolder, string? adapterFolder, string? name = null) =>
        (adapterFolder is null ? null : FromFolder(adapterFolder, name)) ?? FromFolder(modelFolder, name);

    /// <summary>A template file (Jinja text), with the special-token strings of <paramref name="tokenizerFolder"/>'s config.</summary>
    /// <exception cref="ChatTemplateException">The file cannot be read or does not parse.</exception>
    public static ChatTemplate FromFile(string path, string? tokenizerFolder) =>
        FromFile(path, tokenizerFolder is null ? new Dictionary<string, string>() : SpecialTokenStrings(tokenizerFolder));

    private static ChatTemplate FromFile(string path, IReadOnlyDictionary<string, string> special)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ChatTemplateException($"{path}: cannot be read: {e.Message}", e);
        }
        return Parse(text, path, special);
    }

    /// <summary>bos/eos/unk/pad token strings from tokenizer_config.json, as transformers passes them to the template.</summary>
    internal static Dictionary<string, string> SpecialTokenStrings(string folder)
    {
        TokenizerConfigFiles files;
        try { files = TokenizerConfigFiles.Read(folder); }
        catch (TokenizerFormatException e) { throw new ChatTemplateException(e.Message, e); }
        var tokens = new Dictionary<string, string>();
        if (files.BosToken is { } bos) tokens["bos_token"] = bos;
        if (files.EosToken is { } eos) tokens["eos_token"] = eos;
        if (files.UnkToken is { } unk) tokens["unk_token"] = unk;
        if (files.PadToken is { } pad) tokens["pad_token"] = pad;
        return tokens;
    }

    /// <summary>
    /// Writes this template into <paramref name="folder"/>'s tokenizer_config.json as <c>chat_template</c> (the file is
    /// created when missing; its other keys are kept), as transformers saves a tokenizer whose template was set.
    /// </summary>
    public void SaveInto(string folder)
    {
        var path = Path.Combine(folder, ConfigFileName);
        JsonObject config;
        try { config = JsonFiles.ReadObjectIfExists(path) ?? new JsonObject(); }
        catch (TokenizerFormatException e) { throw new ChatTemplateException(e.Message, e); }
        config["chat_template"] = Source;
        var text = config.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        IO.AtomicFile.WriteAllText(path, text + "\n");
    }

    /// <summary>
    /// Renders a conversation. <paramref name="messages"/> is a list of objects with a string <c>role</c>;
    /// <paramref name="tools"/>, when given, is passed as <c>tools</c>; <paramref name="extra"/> adds variables
    /// (e.g. <c>enable_thinking</c>).
    /// </summary>
    /// <exception cref="ChatTemplateException">The messages are malformed, or the template fails (its own
    /// <c>raise_exception</c> included); the message names the template and line.</exception>
    public string Render(JsonArray messages, bool addGenerationPrompt, JsonArray? tools = null, JsonObject? extra = null)
    {
        CheckMessages(messages);
        var context = new JsonObject();
        foreach (var (key, value) in SpecialTokens) context[key] = value;
        if (extra is not null)
            foreach (var (key, value) in extra) context[key] = value?.DeepClone();
        context["messages"] = messages.DeepClone();
        context["add_generation_prompt"] = addGenerationPrompt;
        if (tools is not null) context["tools"] = tools.DeepClone();
        try
        {
            return _template.Render(context);
        }
        catch (JinjaException e)
        {
            throw new ChatTemplateException($"{Origin}: {e.Message}", e);
        }
    }

    private static void CheckMessages(JsonArray messages)
    {
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject message)
                throw new ChatTemplateException($"messages[{i}] is {JsonFiles.Describe(messages[i])}; expected an object with \"role\" and \"content\"");
            if (message["role"] is not JsonValue role || role.GetValueKind() != JsonValueKind.String)
                throw new ChatTemplateException($"messages[{i}] has no \"role\" string (\"system\", \"user\", \"assistant\", \"tool\")");
        }
    }
}
