using System.CommandLine;
using System.Globalization;
using PeftHost.Core.Models;
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
        var command = new Command("inspect", "Show a model's architecture, parameter count and memory; needs only config.json") { model, dtype };
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            string dir = parse.GetValue(model)!;
            var config = ModelConfig.Load(Path.Combine(dir, ModelLoader.ConfigFileName));
            var weightDtype = DeviceSelector.ParseDtype(parse.GetValue(dtype) ?? config.TorchDtype ?? "float32");
            // The meta device builds the full module tree with shapes but no storage.
            using var lm = ModelLoader.Build(config, torch.META, weightDtype, WeightInit.Empty);
            var report = ModelReport.Of(lm);
            output.Write(report.Format());
            return 0;
        }));
        return command;
    }
}
