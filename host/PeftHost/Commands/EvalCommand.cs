using System.CommandLine;
using System.Globalization;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Runtime;
using PeftHost.Core.Tokenization;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft eval</c>: mean next-token NLL and perplexity of a text file.</summary>
public static class EvalCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var textFile = new Option<string>("--text-file", "-f") { Description = "UTF-8 text to score", Required = true };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.Dtype();
        var threads = CommonOptions.Threads();
        var adapter = CommonOptions.Adapter();
        var stride = new Option<int?>("--stride")
        {
            Description = "Tokens between the starts of the sliding windows that cover a text longer than the model's context (default: half the context; at most the context)",
        }.Positive();
        var plugins = PluginsCommand.PluginDirectories();
        var command = new Command("eval", "Score a whole text: mean next-token negative log-likelihood, perplexity and the tokens scored (strided sliding windows over the model's context)")
        {
            model, textFile, stride, device, dtype, threads, adapter, plugins,
        };
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            NativeRuntime.SetThreads(parse.GetValue(threads));
            string dir = parse.GetValue(model)!;
            string file = parse.GetValue(textFile)!;
            if (!File.Exists(file)) throw new FileNotFoundException($"{file}: file not found");
            PeftHost.Core.IO.RegularFiles.Require(file);
            using var session = CommandModel.Open(dir, parse.GetValue(adapter), parse.GetValue(device)!, parse.GetValue(dtype)!, parse.GetValue(plugins)!);
            var ids = session.Tokenizer.Encode(File.ReadAllText(file), addBos: true);
            var result = Perplexity.OfTokens(session.Model, ids, parse.GetValue(stride));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loss: {result.Loss:G6} perplexity: {result.Perplexity:G6} tokens: {result.Tokens}"));
            return 0;
        }));
        return command;
    }
}
