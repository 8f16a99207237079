using System.CommandLine;
using PeftHost.Core.Generation;
using PeftHost.Core.Runtime;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft generate</c>: prints the prompt and its continuation, streamed as it is decoded.</summary>
public static class GenerateCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text to continue (\"\" starts from BOS alone)", DefaultValueFactory = _ => "" };
        var decoding = new DecodingOptions(64, "Tokens to generate at most");
        var noCache = new Option<bool>("--no-cache") { Description = "Recompute the whole sequence each step instead of using the KV cache" };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.Dtype();
        var threads = CommonOptions.Threads();
        var adapter = CommonOptions.Adapter();
        var plugins = PluginsCommand.PluginDirectories();

        var command = new Command("generate", "Continue a prompt with the model") { model, prompt };
        decoding.AddTo(command);
        foreach (Option option in new Option[] { noCache, device, dtype, threads, adapter, plugins }) command.Options.Add(option);
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            NativeRuntime.SetThreads(parse.GetValue(threads));
            using var session = CommandModel.Open(parse.GetValue(model)!, parse.GetValue(adapter), parse.GetValue(device)!, parse.GetValue(dtype)!, parse.GetValue(plugins)!);
            var tokenizer = session.Tokenizer;
            var options = decoding.Read(parse) with { UseCache = !parse.GetValue(noCache) };
            string text = parse.GetValue(prompt) ?? "";
            var ids = tokenizer.Encode(text, addBos: true);
            var generator = new TextGenerator(session.Model);
            generator.Check([ids], options); // before the prompt is printed: a refusal leaves no partial output
            // Printed as decode(prompt + continuation): the prompt's own text, then each new suffix.
            var detokenizer = new IncrementalDetokenizer(tokenizer, ids);
            output.Write(detokenizer.PromptText);
            void Print(string delta)
            {
                if (delta.Length == 0) return;
                output.Write(delta);
                output.Flush();
            }
            generator.Generate([ids], options, (_, token) => Print(detokenizer.Add(token)));
            Print(detokenizer.Flush());
            output.WriteLine();
            return 0;
        }));
        return command;
    }
}
