using System.CommandLine;
using PeftHost.Core.Export.Gguf;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft export gguf</c>: a model, a merged model or a LoRA adapter as a llama.cpp GGUF file.</summary>
public static class ExportCommand
{
    /// <summary>Builds the command group.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string?>("--adapter", "-a")
        {
            Description = "PEFT LoRA adapter folder: exported as a llama.cpp LoRA adapter GGUF (load it beside the base GGUF with llama.cpp's --lora), or folded into the model with --merge",
        };
        var merge = new Option<bool>("--merge") { Description = "Merge the adapter into the model and export one model GGUF (any mergeable method: DoRA, IA³, modules_to_save included)" };
        var outFile = new Option<string>("--out", "-o") { Description = "The GGUF file to write (written to a temporary name, then renamed)", Required = true };
        var type = new Option<string>("--type", "-t")
        {
            Description = "Tensor type of the matrices: f32, f16, bf16, q8_0 or q4_0 (llama.cpp's block formats; a matrix whose rows are not whole " +
                "blocks of 32 is written f16). Norms and biases stay f32. An adapter GGUF takes f32, f16 or bf16. Another type is a usage error (exit 2)",
            DefaultValueFactory = _ => "f32",
        }.Check(name => GgmlTypes.Parse(name));
        var pluginDirs = PluginsCommand.PluginDirectories();
        var gguf = new Command("gguf", "Export a model (a 4-bit base dequantized), a model with its adapter merged (--merge), or a LoRA adapter to GGUF for llama.cpp, Ollama and LM Studio")
            { model, adapter, merge, outFile, type, pluginDirs };
        gguf.Validators.Add(result =>
        {
            if (result.GetValue(merge) && result.GetValue(adapter) is null) result.AddError("--merge needs --adapter: the adapter to merge into the model");
        });
        gguf.SetAction(CommandAction.Of((parse, output) =>
        {
            string modelDir = parse.GetValue(model)!;
            string? adapterDir = parse.GetValue(adapter);
            string target = parse.GetValue(outFile)!;
            var ggmlType = GgmlTypes.Parse(parse.GetValue(type)!);
            bool merged = parse.GetValue(merge);
            if (merged)
            {
                var error = parse.InvocationConfiguration.Error;
                using var pluginHost = PluginsCommand.OpenOneShot(parse.GetValue(pluginDirs));
                var result = MergedGgufExport.Write(modelDir, adapterDir!, target, ggmlType, pluginHost, pluginHost, warning => error.WriteLine($"warning: {warning}"));
                output.WriteLine($"wrote {result.ModelfilePath} (ollama create NAME -f it)");
                output.WriteLine(Wrote(target, $"{modelDir} with {adapterDir} merged", result.Tensors.Count, ggmlType));
                return 0;
            }
            // A LoRA adapter GGUF is read from the adapter folder by the exporter: the model is opened without it.
            using var session = CommandModel.Open(modelDir, null, "cpu", "float32", parse.GetValue(pluginDirs)!);
            IReadOnlyList<GgufTensor> tensors;
            string what;
            if (adapterDir is not null)
            {
                tensors = GgufLoraExporter.Export(adapterDir, session.Model, target, ggmlType);
                what = $"LoRA adapter {adapterDir}";
            }
            else
            {
                tensors = GgufModelExporter.Export(session.Model, modelDir, target, ggmlType);
                what = modelDir;
                output.WriteLine($"wrote {OllamaModelfile.Write(target, modelDir)} (ollama create NAME -f it)");
            }
            output.WriteLine(Wrote(target, what, tensors.Count, ggmlType));
            return 0;
        }));
        return new Command("export", "Export models and adapters to other formats") { gguf };
    }

    private static string Wrote(string target, string what, int tensors, GgmlType type) =>
        $"wrote {target}: {what}, {tensors} tensors, {GgmlTypes.Name(type)}, {new FileInfo(target).Length:N0} bytes";
}
