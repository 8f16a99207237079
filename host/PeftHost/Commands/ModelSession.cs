using PeftHost.Core.IO;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Core.Runtime;
using PeftHost.Core.Tokenization;
using static TorchSharp.torch;

namespace PeftHost.Cli.Commands;

/// <summary>A model folder opened for a command: weights, tokenizer and, when asked, an adapter applied unmerged.</summary>
internal sealed class ModelSession : IDisposable
{
    private readonly PluginHost? _plugins;

    private ModelSession(CausalLanguageModel model, TextTokenizer tokenizer, PeftModel? peft, PluginHost? plugins)
    {
        Model = model;
        Tokenizer = tokenizer;
        Peft = peft;
        _plugins = plugins;
    }

    public CausalLanguageModel Model { get; }
    public TextTokenizer Tokenizer { get; }
    public PeftModel? Peft { get; }

    /// <summary>
    /// Loads <paramref name="modelDir"/> (a quantized folder with its quantizer from the plugins) and,
    /// if <paramref name="adapterDir"/> is given, its adapter (methods from plugins).
    /// </summary>
    public static ModelSession Open(string modelDir, string? adapterDir, string device, string dtype, IReadOnlyList<string> pluginDirs)
    {
        // The loaders open the folders' files as they are: a FIFO among them would block the command for good.
        RegularFiles.RequireInFolder(modelDir);
        if (adapterDir is not null) RegularFiles.RequireInFolder(adapterDir);
        var tokenizer = TokenizerLoader.Load(modelDir);
        var dtypeValue = DeviceSelector.ParseDtype(dtype);
        var deviceValue = DeviceSelector.Resolve(device);
        // Plugins are loaded only when something needs them: an adapter's method or a quantized model's quantizer.
        bool quantized = QuantizedModelFiles.IsQuantized(modelDir);
        if (adapterDir is null && !quantized) return new ModelSession(ModelLoader.Load(modelDir, dtypeValue, deviceValue), tokenizer, null, null);
        var plugins = PluginsCommand.OpenOneShot(pluginDirs);
        CausalLanguageModel? model = null;
        try
        {
            model = ModelLoader.Load(modelDir, dtypeValue, deviceValue, new PluginQuantizerResolver(plugins));
            PeftModel? peft = null;
            if (adapterDir is not null)
            {
                peft = new PeftModel(model, plugins, tokenizer: tokenizer, baseModelPath: modelDir);
                peft.LoadAdapter(adapterDir);
            }
            return new ModelSession(model, tokenizer, peft, plugins);
        }
        catch
        {
            plugins.Dispose();
            model?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Model.Dispose();
        _plugins?.Dispose();
    }
}
