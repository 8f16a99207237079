using PeftHost.Core.IO;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Quantization;
using PeftHost.Core.Tokenization;
using TorchSharp;

namespace PeftHost.Core.Export.Gguf;

/// <summary>What <see cref="MergedGgufExport.Write"/> wrote.</summary>
/// <param name="GgufPath">The model GGUF.</param>
/// <param name="ModelfilePath">The Ollama Modelfile beside it.</param>
/// <param name="Tensors">The tensors written, with the type each got.</param>
/// <param name="Bytes">The GGUF's size.</param>
public sealed record MergedGgufResult(string GgufPath, string ModelfilePath, IReadOnlyList<GgufTensor> Tensors, long Bytes);

/// <summary>
/// A model folder with an adapter folder merged into it, as one model GGUF and its Ollama Modelfile: what
/// <c>peft export gguf --merge</c> writes, and the dashboard's Export GGUF. The model is loaded afresh (float32, on
/// the CPU) for the export alone and freed after it, so a model in use elsewhere is never merged into.
/// </summary>
public static class MergedGgufExport
{
    /// <summary>
    /// Loads <paramref name="modelDir"/> with the adapter of <paramref name="adapterDir"/>, merges it (PEFT's
    /// <c>merge_and_unload</c>; a quantized base is dequantized, merged and re-quantized, with the difference reported
    /// through <paramref name="warn"/>) and writes <paramref name="target"/> (a temporary file, then a rename).
    /// </summary>
    /// <param name="modelDir">The model folder (weights, config, tokenizer).</param>
    /// <param name="adapterDir">The PEFT adapter folder to merge (a saved adapter, or a training checkpoint).</param>
    /// <param name="target">The GGUF file to write; the Modelfile goes beside it.</param>
    /// <param name="type">The matrices' tensor type.</param>
    /// <param name="methods">Where the adapter's method comes from.</param>
    /// <param name="quantizers">Where a quantized model's quantizer comes from.</param>
    /// <param name="warn">Receives the quantized merge's report, when the base is quantized.</param>
    public static MergedGgufResult Write(string modelDir, string adapterDir, string target, GgmlType type,
        IMethodCatalog methods, IQuantizerResolver? quantizers, Action<string>? warn = null)
    {
        // The loaders open the folders' files as they are: a FIFO among them would block for good.
        RegularFiles.RequireInFolder(modelDir);
        RegularFiles.RequireInFolder(adapterDir);
        var tokenizer = TokenizerLoader.Load(modelDir);
        using var session = new ModelSession(ModelLoader.Load(modelDir, torch.ScalarType.Float32, torch.CPU, quantizers), modelDir, tokenizer);
        session.OpenPeft(methods).LoadAdapter(adapterDir);
        var merged = QuantizedMerge.MergeAndUnload(session.Peft!, warn).Model;
        var tensors = GgufModelExporter.Export(merged, modelDir, target, type);
        string modelfile = OllamaModelfile.Write(target, modelDir);
        return new MergedGgufResult(target, modelfile, tensors, new FileInfo(target).Length);
    }
}
