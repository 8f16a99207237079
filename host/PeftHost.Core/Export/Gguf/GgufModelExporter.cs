using PeftHost.Core.IO;
using PeftHost.Core.Models;
using PeftHost.Core.Quantization;
using static TorchSharp.torch;

namespace PeftHost.Core.Export.Gguf;

/// <summary>
/// Writes a model as one llama.cpp GGUF file: the architecture's hyperparameters, the tokenizer of the model folder,
/// and every weight under its GGUF name. Norms and biases (1-D) stay F32; matrices take the asked type, falling back
/// to F16 where a row is not a whole number of quantization blocks (as convert_hf_to_gguf does). A tied head writes no
/// <c>output.weight</c>: llama.cpp then uses <c>token_embd.weight</c>. 4-bit and 8-bit layers are dequantized first.
/// </summary>
public static class GgufModelExporter
{
    /// <summary>Exports <paramref name="model"/> (without adapters) with the tokenizer of <paramref name="tokenizerDir"/> to <paramref name="outPath"/>.</summary>
    /// <returns>The tensors written, with the type each got.</returns>
    public static IReadOnlyList<GgufTensor> Export(CausalLanguageModel model, string tokenizerDir, string outPath, GgmlType type, string? name = null)
    {
        var config = model.Config;
        var arch = GgufArchitecture.For(config);
        var metadata = GeneralMetadata(arch.Name, "model", name ?? Path.GetFileName(Path.GetFullPath(tokenizerDir).TrimEnd('/')));
        metadata.Add(new("general.file_type", GgufValue.U32(GgmlTypes.FileType(type))));
        metadata.Add(new("general.quantization_version", GgufValue.U32(2)));
        metadata.AddRange(arch.Hyperparameters());
        metadata.AddRange(GgufVocabulary.Metadata(tokenizerDir, config.VocabSize));

        var state = QuantizedModelFiles.PlainStateDict(model, ScalarType.Float32);
        try
        {
            var tensors = new List<GgufTensor>(state.Count);
            foreach (var (hfName, weight) in state)
            {
                string gguf = arch.TensorName(hfName)
                    ?? throw new InvalidOperationException($"parameter {hfName} has no GGUF counterpart; merge or remove adapters before exporting the model");
                var shape = weight.shape;
                var tensorType = shape.Length == 1 ? GgmlType.F32
                    : GgmlEncoder.CanEncode(shape, type) ? type
                    : GgmlType.F16;
                var (source, parameterName) = (weight, hfName);
                tensors.Add(new GgufTensor(gguf, shape, tensorType, () =>
                {
                    using var converted = arch.ToGguf(parameterName, source);
                    return GgmlEncoder.Encode(converted, tensorType);
                }));
            }
            foreach (var (gguf, value) in arch.ExtraTensors())
            {
                state.Add(new(gguf, value)); // disposed with the state below
                tensors.Add(new GgufTensor(gguf, value.shape, GgmlType.F32, () => GgmlEncoder.Encode(value, GgmlType.F32)));
            }
            GgufFileOutput.Write(outPath, metadata, tensors);
            return tensors;
        }
        finally
        {
            foreach (var kv in state) kv.Value.Dispose();
        }
    }

    /// <summary>The <c>general.*</c> keys every PeftHost GGUF starts with.</summary>
    internal static List<KeyValuePair<string, GgufValue>> GeneralMetadata(string architecture, string fileKind, string name) =>
    [
        new("general.architecture", GgufValue.Str(architecture)),
        new("general.type", GgufValue.Str(fileKind)),
        new("general.name", GgufValue.Str(name)),
    ];
}

/// <summary>Writes a GGUF file atomically (temporary file, then rename), naming the file when that fails.</summary>
internal static class GgufFileOutput
{
    public static void Write(string outPath, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<GgufTensor> tensors)
    {
        try
        {
            AtomicFile.Write(outPath, stream => GgufWriter.Write(stream, metadata, tensors));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{outPath}: cannot be written ({e.Message})", e);
        }
    }
}
