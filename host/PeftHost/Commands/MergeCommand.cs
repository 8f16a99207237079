using System.CommandLine;
using PeftHost.Core.IO;
using PeftHost.Core.Models;
using PeftHost.Core.Runtime;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft merge</c>: folds an adapter into its base and writes a standalone Hugging Face model folder.</summary>
public static class MergeCommand
{
    /// <summary>Tokenizer and generation files copied from the base model so the merged folder is complete.</summary>
    private static readonly string[] CompanionFiles =
        ["tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "LICENSE"];

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string>("--adapter", "-a") { Description = "PEFT adapter folder to merge", Required = true };
        var outDir = new Option<string>("--out", "-o") { Description = "Output folder for the merged model", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "Dtype to save in (default: the base model's)" };
        var plugins = PluginsCommand.PluginDirectories();
        var command = new Command("merge", "Merge an adapter into its base model and save a plain model in Hugging Face layout") { model, adapter, outDir, dtype, plugins };
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            string modelDir = parse.GetValue(model)!;
            string target = parse.GetValue(outDir)!;
            using var session = ModelSession.Open(modelDir, parse.GetValue(adapter), "cpu", "float32", parse.GetValue(plugins)!);
            var merged = session.Peft!.MergeAndUnload();
            var saveDtype = parse.GetValue(dtype) is string d ? DeviceSelector.ParseDtype(d)
                : DeviceSelector.ParseDtype(merged.Config.TorchDtype ?? "float32");
            using var staging = StagingDirectory.Create(target);
            ModelLoader.Save(merged, staging.Path, saveDtype);
            foreach (var name in CompanionFiles.Where(n => File.Exists(Path.Combine(modelDir, n))))
                File.Copy(Path.Combine(modelDir, name), Path.Combine(staging.Path, name), overwrite: true);
            staging.Commit();
            output.WriteLine($"merged {parse.GetValue(adapter)} into {modelDir} → {target} ({DeviceSelector.DtypeName(saveDtype)})");
            return 0;
        }));
        return command;
    }
}
