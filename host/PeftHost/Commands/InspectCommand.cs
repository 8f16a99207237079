using System.CommandLine;
using System.Globalization;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Core.Runtime;
using TorchSharp;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft inspect</c>: architecture, size and memory of a model folder (config.json alone suffices).</summary>
public static class InspectCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var dtype = new Option<string?>("--dtype") { Description = "Dtype to size the weights in (default: the config's torch_dtype)" };
        var lora = new Option<string?>("--lora")
        {
            Description = "Size a LoRA adapter too: r=8,alpha=16,targets=q_proj+v_proj[,dropout=0.05,rslora=true,dora=true] (other keys pass through as LoRA options)",
        };
        var plugins = PluginsCommand.PluginDirectories();
        var command = new Command("inspect", "Show a model's architecture, parameter count and memory; needs only config.json (a quantized folder is loaded to measure its stored layout)") { model, dtype, lora, plugins };
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            string dir = parse.GetValue(model)!;
            var config = ModelConfig.Load(Path.Combine(dir, ModelLoader.ConfigFileName));
            var weightDtype = DeviceSelector.ParseDtype(parse.GetValue(dtype) ?? config.TorchDtype ?? "float32");
            // The meta device builds the full module tree with shapes but no storage.
            using var lm = ModelLoader.Build(config, torch.META, weightDtype, WeightInit.Empty);
            var report = ModelReport.Of(lm);
            output.Write(report.Format());
            if (QuantizedModelFiles.IsQuantized(dir))
            {
                // The sizes above are the full-precision model's; a quantized folder is loaded as it is stored to measure it.
                using var host = new PluginHost(new PluginHostOptions { PluginDirectories = parse.GetValue(plugins)!, WatchForChanges = false });
                using var stored = ModelLoader.Load(dir, weightDtype, torch.CPU, new PluginQuantizerResolver(host));
                output.WriteLine($"stored quantized ({QuantizedLayers.ConfigOf(stored)!.QuantType}, bitsandbytes layout):");
                output.WriteLine(QuantizationMemory.Measure(stored).Format());
            }
            if (parse.GetValue(lora) is string spec)
            {
                using var host = new PluginHost(new PluginHostOptions { PluginDirectories = parse.GetValue(plugins)!, WatchForChanges = false });
                var peft = new PeftModel(lm, host);
                peft.AddAdapter("lora", LoraSpec.Parse(spec));
                output.WriteLine(peft.TrainableParametersLine());
            }
            return 0;
        }));
        return command;
    }
}
