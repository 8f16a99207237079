using System.CommandLine;
using System.Globalization;
using PeftHost.Core.Data;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft import spamassassin</c>: makes the bundled compact SpamAssassin dataset from the full corpus.</summary>
public static class ImportDataCommand
{
    /// <summary>Builds the <c>spamassassin</c> subcommand (to be added to the <c>import</c> group).</summary>
    public static Command CreateSpamAssassin()
    {
        var input = new Argument<string>("corpus.jsonl.gz") { Description = "The full corpus: JSON Lines {id, group, label, text}, optionally gzip-compressed" };
        var outDir = new Option<string>("--out", "-o") { Description = "Output folder (e.g. data/spamassassin)", Required = true };
        var maxBody = new Option<int>("--max-body-chars")
        {
            Description = "Characters of body text kept per message",
            DefaultValueFactory = _ => SpamAssassinImporter.DefaultMaxBodyChars,
        }.Positive();
        var command = new Command("spamassassin", "Reduce the SpamAssassin corpus to id, group, label, subject and the start of the body (other headers dropped)")
        {
            input, outDir, maxBody,
        };
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            string source = parse.GetValue(input)!;
            if (!File.Exists(source)) throw new FileNotFoundException($"{source}: file not found", source);
            PeftHost.Core.IO.RegularFiles.Require(source);
            var result = SpamAssassinImporter.Import(source, parse.GetValue(outDir)!, parse.GetValue(maxBody));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {result.DataFile}: {result.Messages} messages ({string.Join(", ", result.Labels.Select(kv => $"{kv.Value} {kv.Key}"))}), {result.Bytes / 1024.0:F0} KiB"));
            return 0;
        }));
        return command;
    }
}
