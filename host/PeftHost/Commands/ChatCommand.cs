using System.CommandLine;
using System.Text.Json.Nodes;
using PeftHost.Core.Chat;
using PeftHost.Core.Generation;
using PeftHost.Core.Runtime;

namespace PeftHost.Cli.Commands;

/// <summary>
/// <c>peft chat</c>: an interactive conversation in the terminal. Each line read from standard input is a user
/// turn; the whole history is rendered with the chat template and the reply is streamed until the model ends its
/// turn. <c>/reset</c> forgets the history (the system prompt stays); end of input (Ctrl-D) or <c>/exit</c> ends.
/// </summary>
public static class ChatCommand
{
    /// <summary>Builds the command; it reads user turns from <paramref name="input"/> (standard input when null).</summary>
    public static Command Create(TextReader? input = null)
    {
        var model = CommonOptions.Model();
        var adapter = CommonOptions.Adapter();
        var template = new Option<string?>("--template") { Description = "Jinja chat template file (default: the adapter's, else the model's chat_template.jinja or tokenizer_config.json chat_template)" };
        var templateName = new Option<string?>("--template-name") { Description = "Which of tokenizer_config.json's named chat templates to use (default \"default\")" };
        var system = new Option<string?>("--system", "-s") { Description = "System prompt, the conversation's first message" };
        var decoding = new DecodingOptions(256, "Tokens per reply at most");
        var device = CommonOptions.Device();
        var dtype = CommonOptions.Dtype();
        var threads = CommonOptions.Threads();
        var plugins = PluginsCommand.PluginDirectories();

        var command = new Command("chat",
            "Chat with the model in the terminal: each input line is a user turn, the reply follows; /reset clears the history, /exit or end of input ends")
        {
            model, adapter, template, templateName, system,
        };
        decoding.AddTo(command);
        foreach (Option option in new Option[] { device, dtype, threads, plugins }) command.Options.Add(option);
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var reader = input ?? Console.In;
            if (parse.GetValue(template) is not null && parse.GetValue(templateName) is not null)
                throw new ArgumentException("give either --template or --template-name, not both");
            NativeRuntime.SetThreads(parse.GetValue(threads));
            string modelDir = parse.GetValue(model)!;
            string? adapterDir = parse.GetValue(adapter);
            var chatTemplate = LoadTemplate(parse.GetValue(template), parse.GetValue(templateName), modelDir, adapterDir);
            using var session = CommandModel.Open(modelDir, adapterDir, parse.GetValue(device)!, parse.GetValue(dtype)!, parse.GetValue(plugins)!);
            var stops = ChatStopTokens.For(modelDir, session.Tokenizer, session.Model.Config.EosTokenIds);
            var chat = new ChatGenerator(session.Model, session.Tokenizer, chatTemplate, stops);
            var options = decoding.Read(parse);
            var systemPrompt = parse.GetValue(system);
            var interactive = input is null && !Console.IsInputRedirected;
            error.WriteLine($"chat template: {chatTemplate.Origin}. One line per turn; /reset clears the history, /exit or end of input ends.");

            var history = NewHistory(systemPrompt);
            var failed = false;
            while (true)
            {
                if (interactive) { output.Write("> "); output.Flush(); }
                var line = reader.ReadLine();
                if (line is null || line.Trim() == "/exit") break;
                if (line.Trim() == "/reset")
                {
                    history = NewHistory(systemPrompt);
                    continue;
                }
                if (line.Trim().Length == 0) continue;
                history.Add(new JsonObject { ["role"] = "user", ["content"] = line });
                string reply;
                try
                {
                    // Checked before anything is printed: a refused turn prints no partial reply.
                    chat.Check(history, options);
                    reply = chat.Reply(history, options, text => { output.Write(text); output.Flush(); });
                }
                catch (Exception e) when (e is ChatTemplateException or ArgumentException)
                {
                    // The turn is dropped and the conversation goes on (e.g. after /reset when the history outgrew the context).
                    error.WriteLine($"error: {e.Message}");
                    history.RemoveAt(history.Count - 1);
                    failed = true;
                    continue;
                }
                output.WriteLine();
                history.Add(new JsonObject { ["role"] = "assistant", ["content"] = reply });
            }
            return failed ? PeftCli.Failure : 0;
        }));
        return command;
    }

    private static JsonArray NewHistory(string? systemPrompt) =>
        systemPrompt is null ? [] : [new JsonObject { ["role"] = "system", ["content"] = systemPrompt }];

    /// <summary>--template, else the adapter folder's template (saved with a chat fine-tune), else the model folder's.</summary>
    private static ChatTemplate LoadTemplate(string? file, string? name, string modelDir, string? adapterDir)
    {
        if (file is not null) return ChatTemplate.FromFile(file, modelDir);
        return ChatTemplate.ForModel(modelDir, adapterDir, name)
            ?? throw new ChatTemplateException($"{modelDir} has no chat template (neither {ChatTemplate.TemplateFileName} nor \"chat_template\" in tokenizer_config.json); give one with --template FILE");
    }
}
