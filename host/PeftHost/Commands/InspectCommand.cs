using System.CommandLine;
using System.Globalization;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Core.Runtime;
using PeftHost.Sdk;
using TorchSharp;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft inspect</c>: architecture, size and memory of a model folder (config.json alone suffices).</summary>
public static class InspectCommand
{
    private const string LoraMethod = "lora";

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var dtype = CommonOptions.DtypeOrConfig("Dtype to size the weights in (default: the config's torch_dtype)");
        var lora = new Option<string?>("--lora")
        {
            Description = "Size a LoRA adapter too: r=8,alpha=16,targets=q_proj+v_proj[,dropout=0.05,rslora=true,dora=true] (other keys pass through as LoRA options)",
        };
        var plugins = PluginsCommand.PluginDirectories();
        var command = new Command("inspect", "Show a model's architecture, its family's block options, parameter count and memory; needs only config.json (a quantized folder is loaded to measure its stored layout)") { model, dtype, lora, plugins };
        // The LoRA options are bound by the lora plugin's own config rules at parse time: a bad value is a usage error.
        command.Validators.Add(result =>
        {
            if (result.Children.Any(c => c.Errors.Any()) || result.GetValue(lora) is not string spec) return;
            try
            {
                using var host = PluginsCommand.OpenOneShot(result.GetValue(plugins));
                host.GetMethod(LoraMethod).BindConfig(ConfigSource.FromOptions(LoraSpec.Parse(spec), "--lora"));
            }
            catch (ConfigException e) { result.AddError(e.Message.StartsWith("--lora", StringComparison.Ordinal) ? e.Message : $"--lora: {e.Message}"); }
        });
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            string dir = parse.GetValue(model)!;
            var config = ModelConfig.Load(Path.Combine(dir, ModelLoader.ConfigFileName));
            var weightDtype = DeviceSelector.ParseDtype(parse.GetValue(dtype) ?? config.TorchDtype ?? "float32");
            // The meta device builds the full module tree with shapes but no storage.
            using var lm = ModelLoader.Build(config, torch.META, weightDtype, WeightInit.Empty);
            // Everything is computed before anything is written, so a failure leaves no partial report.
            string report = ModelReport.Of(lm).Format();
            if (QuantizedModelFiles.IsQuantized(dir))
            {
                // The sizes above are the full-precision model's; a quantized folder is loaded as it is stored to measure it.
                using var host = PluginsCommand.OpenOneShot(parse.GetValue(plugins));
                using var stored = ModelLoader.Load(dir, weightDtype, torch.CPU, host);
                report += $"stored quantized ({QuantizedLayers.ConfigOf(stored)!.QuantType}, bitsandbytes layout):" + Environment.NewLine;
                report += QuantizationMemory.Measure(stored).Format() + Environment.NewLine;
            }
            if (parse.GetValue(lora) is string spec)
            {
                using var host = PluginsCommand.OpenOneShot(parse.GetValue(plugins));
                var peft = new PeftModel(lm, host);
                peft.AddAdapter(LoraMethod, LoraSpec.Parse(spec));
                report += peft.TrainableParametersLine() + Environment.NewLine;
            }
            output.Write(report);
            return 0;
        }));
        return command;
    }
}
