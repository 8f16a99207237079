using System.Text.Json;
using PeftHost.Core.Generation;
using PeftHost.Core.Import;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Models;

/// <summary>The bundled stories260k model against llama2.c's own greedy decoding (reference_greedy.json).</summary>
public sealed class StoriesReferenceTests
{
    private sealed record Reference(int[] Tokens, float[] LogitsPos0, float[] LogitsLast, double MeanNll);

    private static Reference LoadReference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("stories260k", "reference_greedy.json")));
        var r = doc.RootElement;
        return new Reference(
            r.GetProperty("greedy_tokens_from_bos").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            r.GetProperty("logits_pos0_first8").EnumerateArray().Select(e => e.GetSingle()).ToArray(),
            r.GetProperty("logits_last_first8").EnumerateArray().Select(e => e.GetSingle()).ToArray(),
            r.GetProperty("mean_nll_of_greedy").GetDouble());
    }

    [Fact]
    public void Greedy_decoding_from_bos_reproduces_the_reference_tokens()
    {
        var reference = LoadReference();
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var generated = new TextGenerator(model).Generate([[reference.Tokens[0]]],
            new GenerationOptions { Temperature = 0, MaxNewTokens = reference.Tokens.Length - 1, StopAtEos = false });
        Assert.Equal(reference.Tokens.Skip(1), generated[0]);
    }

    [Fact]
    public void Logits_and_nll_match_the_reference_within_1e4()
    {
        var reference = LoadReference();
        using var model = ModelLoader.Load(TestPaths.Stories260k);
        using var ids = tensor(reference.Tokens.Select(i => (long)i).ToArray(), [1, reference.Tokens.Length]);
        using var logits = model.Forward(ids);
        AssertClose(reference.LogitsPos0, logits[0, 0, ..8].data<float>().ToArray(), 1e-4);
        AssertClose(reference.LogitsLast, logits[0, -1, ..8].data<float>().ToArray(), 1e-4);
        var (sum, count) = LanguageModelLoss.SumAndCount(logits, ids);
        Assert.Equal(reference.MeanNll, sum / count, 4);
    }

    [Fact]
    public void Importing_the_llama2c_checkpoint_reproduces_the_bundled_model()
    {
        using var dir = new TempDir();
        string outDir = dir["imported"];
        Llama2cImporter.Import(TestPaths.Fixture("llama2c", "stories260K.bin"), TestPaths.Fixture("llama2c", "tok512.bin"), outDir);
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(outDir, file)), file);
        using var imported = ModelLoader.Load(outDir);
        using var bundled = ModelLoader.Load(TestPaths.Stories260k);
        var ours = imported.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in bundled.named_parameters())
            Assert.True(TensorAssert.Identical(p, ours[name]), $"{name} differs from the bundled model");
    }

    [Fact]
    public void Truncated_llama2c_checkpoint_is_refused_with_the_file_named()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(TestPaths.Fixture("llama2c", "stories260K.bin"));
        File.WriteAllBytes(dir["cut.bin"], bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Read(dir["cut.bin"]));
        Assert.Contains("cut.bin", e.Message);
        Assert.Contains("bytes", e.Message);
    }

    internal static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"[{i}] expected {expected[i]}, got {actual[i]}");
    }
}
