using System.CommandLine;
using PeftHost.Core.IO;
using PeftHost.Core.Models;
using PeftHost.Core.Quantization;
using PeftHost.Core.Recipes.Sandbox;
using PeftHost.Core.Runtime;
using static TorchSharp.torch;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft merge</c>: folds an adapter into its base and writes a standalone Hugging Face model folder.</summary>
public static class MergeCommand
{
    /// <summary>Tokenizer and generation files copied from the base model so the merged folder is complete.</summary>
    private static readonly string[] CompanionFiles =
        ["tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "LICENSE"];

    /// <summary>Where <paramref name="path"/> really is, links followed.</summary>
    private static string Real(string path) => RealPath.Resolve(Path.GetFullPath(path));

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string>("--adapter", "-a") { Description = "PEFT adapter folder to merge", Required = true };
        var outDir = new Option<string>("--out", "-o") { Description = "Output folder for the merged model", Required = true };
        var dtype = CommonOptions.DtypeOrConfig("Dtype to save in (default: the base model's). A quantized base is saved re-quantized, with the measured " +
            "output difference as a warning, unless --dtype is given: then the merge is exact and saved as a plain model in that dtype");
        var plugins = PluginsCommand.PluginDirectories();
        var command = new Command("merge", "Merge an adapter into its base model and save a standalone model in Hugging Face layout, to a folder apart from both inputs " +
            "(a 4-bit or 8-bit base: re-quantized in the bitsandbytes layout, or with --dtype a plain model)") { model, adapter, outDir, dtype, plugins };
        // Writing the merged model over an input would replace the base weights or the adapter while they are read.
        command.Validators.Add(result =>
        {
            if (result.GetValue(outDir) is not string target) return;
            string output = Real(target);
            foreach (var (input, role) in new[] { (result.GetValue(model), "model"), (result.GetValue(adapter), "adapter") })
            {
                if (input is null) continue;
                string real = Real(input);
                if (RealPath.IsUnder(output, real) || RealPath.IsUnder(real, output))
                    result.AddError($"--out {target}: the output folder may not be, contain or lie inside the {role} folder {input}");
            }
        });
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            string modelDir = parse.GetValue(model)!;
            string target = parse.GetValue(outDir)!;
            var askedDtype = parse.GetValue(dtype) is string d ? DeviceSelector.ParseDtype(d) : (TorchSharp.torch.ScalarType?)null;
            using var session = CommandModel.Open(modelDir, parse.GetValue(adapter), "cpu", "float32", parse.GetValue(plugins)!);
            bool quantized = QuantizedLayers.Find(session.Model).Any();
            using var staging = StagingDirectory.Create(target);
            string saved;
            if (quantized && askedDtype is ScalarType plain)
            {
                // Each layer's effective weight read off the adapted layer: nothing is rounded to the 4-bit grid.
                QuantizedMerge.ExportMergedFullPrecision(session.Peft!, staging.Path, plain);
                saved = DeviceSelector.DtypeName(plain);
            }
            else
            {
                var error = parse.InvocationConfiguration.Error;
                var (merged, _) = QuantizedMerge.MergeAndUnload(session.Peft!, warning => error.WriteLine($"warning: {warning}"));
                var saveDtype = askedDtype ?? DeviceSelector.ParseDtype(merged.Config.TorchDtype ?? "float32");
                // A quantized model keeps its layout when no dtype was asked for.
                ModelLoader.Save(merged, staging.Path, quantized ? null : saveDtype);
                saved = quantized ? $"{QuantizedLayers.ConfigOf(merged)?.QuantType ?? "quantized"}, bitsandbytes layout" : DeviceSelector.DtypeName(saveDtype);
            }
            foreach (var name in CompanionFiles.Where(n => File.Exists(Path.Combine(modelDir, n))))
                File.Copy(Path.Combine(modelDir, name), Path.Combine(staging.Path, name), overwrite: true);
            staging.Commit();
            output.WriteLine($"merged {parse.GetValue(adapter)} into {modelDir} → {target} ({saved})");
            return 0;
        }));
        return command;
    }
}
