using PeftHost.Core.IO;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Quantization;
using PeftHost.Core.Runtime;
using PeftHost.Core.Tokenization;

namespace PeftHost.Cli.Commands;

/// <summary>Opens a model folder for a command as a <see cref="ModelSession"/>: weights, tokenizer and, when asked, an adapter applied unmerged.</summary>
internal static class CommandModel
{
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
        if (adapterDir is null && !quantized) return new ModelSession(ModelLoader.Load(modelDir, dtypeValue, deviceValue), modelDir, tokenizer);
        var plugins = PluginsCommand.OpenOneShot(pluginDirs);
        ModelSession? session = null;
        try
        {
            session = new ModelSession(ModelLoader.Load(modelDir, dtypeValue, deviceValue, plugins), modelDir, tokenizer);
            session.DisposeWith(plugins);
            if (adapterDir is not null) session.OpenPeft(plugins).LoadAdapter(adapterDir);
            return session;
        }
        catch
        {
            if (session is null) plugins.Dispose();
            else session.Dispose();
            throw;
        }
    }
}
