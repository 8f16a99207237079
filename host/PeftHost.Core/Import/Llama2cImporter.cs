using PeftHost.Core.Checkpoints;
using PeftHost.Core.IO;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using static TorchSharp.torch;

namespace PeftHost.Core.Import;

/// <summary>Converts a llama2.c model (and optionally its tokenizer) into a Hugging Face model folder.</summary>
public static class Llama2cImporter
{
    /// <summary>
    /// Writes <c>config.json</c>, <c>generation_config.json</c>, <c>model.safetensors</c> and, when
    /// <paramref name="tokenizerBin"/> is given, a SentencePiece <c>tokenizer.model</c> with its
    /// configs into <paramref name="outDir"/>. The folder is assembled beside the target and moved
    /// into place, so a failed import leaves nothing half-written.
    /// </summary>
    public static ModelConfig Import(string modelBin, string? tokenizerBin, string outDir)
    {
        var (header, state) = Llama2cCheckpoint.Read(modelBin);
        var config = header.ToModelConfig();
        var staging = StagingDirectory.Create(outDir);
        try
        {
            CheckpointWriter.Write(staging.Path, state.ToList());
            AtomicFile.WriteAllText(Path.Combine(staging.Path, ModelLoader.ConfigFileName), config.ToJson("float32").ToJsonString(Json.Indented));
            ModelLoader.WriteGenerationConfig(config, staging.Path);
            if (tokenizerBin is not null)
                Llama2cTokenizerConverter.Convert(tokenizerBin, header.VocabSize, staging.Path, modelMaxLength: header.MaxSeqLen);
            staging.Commit();
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
            staging.Dispose();
        }
        return config;
    }
}
