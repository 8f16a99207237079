using System.CommandLine;
using PeftHost.Core.Import;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft import llama2c</c>: converts a llama2.c model and tokenizer to Hugging Face layout.</summary>
public static class ImportCommand
{
    /// <summary>Builds the command group.</summary>
    public static Command Create()
    {
        var modelBin = new Argument<string>("model.bin") { Description = "llama2.c checkpoint (legacy v0 format)" };
        var tokenizerBin = new Argument<string>("tokenizer.bin") { Description = "llama2.c tokenizer (tok*.bin)" };
        var outDir = new Option<string>("--out", "-o") { Description = "Output folder", Required = true };
        var llama2c = new Command("llama2c", "Convert a llama2.c checkpoint and tokenizer into a Hugging Face model folder") { modelBin, tokenizerBin, outDir };
        llama2c.SetAction(CommandAction.Of((parse, output) =>
        {
            string dir = parse.GetValue(outDir)!;
            var config = Llama2cImporter.Import(parse.GetValue(modelBin)!, parse.GetValue(tokenizerBin), dir);
            output.WriteLine($"wrote {dir}: {config.Architecture}, {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize}");
            return 0;
        }));
        return new Command("import", "Import models and datasets from other formats") { llama2c, ImportDataCommand.CreateSpamAssassin() };
    }
}
