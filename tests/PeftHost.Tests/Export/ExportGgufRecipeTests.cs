using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;
using Xunit.Abstractions;

namespace PeftHost.Tests.Export;

/// <summary>recipes/export-gguf.js: its three GGUF files load in llama.cpp, and the adapter unmerged scores as the merged model.</summary>
public sealed class ExportGgufRecipeTests(ITestOutputHelper log)
{
    [SkippableFact]
    public void The_recipe_exports_base_adapter_and_merged_files_that_llama_cpp_scores_alike()
    {
        using var dir = new TempDir();
        var run = RecipeHarness.RunFile(Path.Combine(TestPaths.RepoRoot, "recipes", "export-gguf.js"), dir.Path, "--set", "steps=6", "--set", "type=f32");
        Assert.True(run.Code == 0, run.Err);
        log.WriteLine(run.Out);
        Assert.Contains("ollama create stories-sparky -f", run.Out);
        var modelfile = File.ReadAllText(dir["stories260k-merged-f32.Modelfile"]);
        Assert.Equal("FROM ./stories260k-merged-f32.gguf\nPARAMETER stop \"</s>\"\n", modelfile);

        var unmerged = LlamaCppJudge.Run(dir["stories260k-f32.gguf"], dir["stories260k-lora-f32.gguf"], texts: [GgufModelExportTests.Text]).Texts[0].Nll;
        var merged = LlamaCppJudge.Run(dir["stories260k-merged-f32.gguf"], texts: [GgufModelExportTests.Text]).Texts[0].Nll;
        var baseOnly = LlamaCppJudge.Run(dir["stories260k-f32.gguf"], texts: [GgufModelExportTests.Text]).Texts[0].Nll;
        log.WriteLine($"llama.cpp mean NLL: base {baseOnly:F6}, base + adapter {unmerged:F6}, merged {merged:F6}");
        Assert.NotEqual(baseOnly, unmerged);
        Assert.InRange(Math.Abs(unmerged - merged), 0, 1e-4);
    }
}
