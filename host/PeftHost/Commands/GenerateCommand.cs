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
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Tokens to generate at most", DefaultValueFactory = _ => 64 }
            .Check(v => new GenerationOptions { MaxNewTokens = v }.Validate());
        var temperature = new Option<double>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0.8 }
            .Check(v => new GenerationOptions { Temperature = v }.Validate());
        var topK = new Option<int>("--top-k") { Description = "Sample from the k most likely tokens (0 = all)", DefaultValueFactory = _ => 0 }
            .Check(v => new GenerationOptions { TopK = v }.Validate());
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling threshold (1 = off)", DefaultValueFactory = _ => 0.9 }
            .Check(v => new GenerationOptions { TopP = v }.Validate());
        var penalty = new Option<double>("--repetition-penalty") { Description = "Penalty on repeated tokens (1 = off)", DefaultValueFactory = _ => 1.0 }
            .Check(v => new GenerationOptions { RepetitionPenalty = v }.Validate());
        var seed = new Option<long?>("--seed") { Description = "Random seed for sampling" };
        var noCache = new Option<bool>("--no-cache") { Description = "Recompute the whole sequence each step instead of using the KV cache" };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.Dtype();
        var threads = CommonOptions.Threads();
        var adapter = CommonOptions.Adapter();
        var plugins = PluginsCommand.PluginDirectories();

        var command = new Command("generate", "Continue a prompt with the model") { model, prompt, maxNew, temperature, topK, topP, penalty, seed, noCache, device, dtype, threads, adapter, plugins };
        GenerationOptions Read(ParseResult parse) => new()
        {
            MaxNewTokens = parse.GetValue(maxNew),
            Temperature = parse.GetValue(temperature),
            TopK = parse.GetValue(topK),
            TopP = parse.GetValue(topP),
            RepetitionPenalty = parse.GetValue(penalty),
            Seed = parse.GetValue(seed),
            UseCache = !parse.GetValue(noCache),
        };
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            NativeRuntime.SetThreads(parse.GetValue(threads));
            using var session = ModelSession.Open(parse.GetValue(model)!, parse.GetValue(adapter), parse.GetValue(device)!, parse.GetValue(dtype)!, parse.GetValue(plugins)!);
            var tokenizer = session.Tokenizer;
            var options = Read(parse);
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
