using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>Every recipe in recipes/ runs to its end (small step counts through --set).</summary>
public sealed class RecipesFolderTests : IDisposable
{
    /// <summary>What keeps each recipe quick in a test; a recipe not listed runs with its defaults.</summary>
    private static readonly Dictionary<string, string[]> QuickSettings = new()
    {
        ["generate.js"] = ["--set", "maxNewTokens=8"],
        ["quickstart.js"] = ["--set", "steps=6", "--set", "examples=32", "--set", "testExamples=16", "--set", "batchSize=8"],
        ["lora.js"] = ["--set", "steps=8"],
        ["sft.js"] = ["--set", "steps=6", "--set", "examples=40"],
        ["multi-adapter.js"] = ["--set", "steps=20"],
        ["merge-and-export.js"] = ["--set", "steps=6"],
        ["export-gguf.js"] = ["--set", "steps=6"],
        ["qlora.js"] = ["--set", "steps=6"],
        ["adalora.js"] = ["--set", "steps=12"],
        ["ia3.js"] = ["--set", "steps=6"],
        ["prefix-tuning.js"] = ["--set", "steps=6"],
        ["prompt-tuning.js"] = ["--set", "steps=6"],
        ["p-tuning.js"] = ["--set", "steps=6"],
        ["compare-methods.js"] = ["--set", "steps=12", "--set", "batchSize=4", "--set", "examples=16", "--set", "testExamples=8"],
        ["chat-sft.js"] = ["--set", "steps=4", "--set", "examples=16", "--set", "testExamples=4", "--set", "packing=true"],
        ["classify-spam.js"] = ["--set", "steps=4", "--set", "examples=16", "--set", "testExamples=8"],
    };

    private readonly TempDir _out = new();

    public void Dispose() => _out.Dispose();

    public static TheoryData<string> Recipes()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "recipes"), "*.js").Where(f => !Path.GetFileName(f).StartsWith('_')).Order())
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Recipes))]
    public void Recipe_runs(string recipe)
    {
        string path = Path.Combine(TestPaths.RepoRoot, "recipes", recipe);
        var run = RecipeHarness.RunFile(path, _out.Path, QuickSettings.GetValueOrDefault(recipe, []));
        Assert.True(run.Code == 0, $"{recipe} exited with {run.Code}\nstdout:\n{run.Out}\nstderr:\n{run.Err}");
        Assert.Contains("done: outputs in", run.Err);
        Assert.True(File.Exists(Path.Combine(_out.Path, "run.json")));
    }

    [Fact]
    public void Generate_recipe_prints_the_greedy_reference_continuation()
    {
        var run = RecipeHarness.RunFile(Path.Combine(TestPaths.RepoRoot, "recipes", "generate.js"), _out.Path, "--set", "maxNewTokens=24");
        Assert.True(run.Code == 0, run.Err);
        // The llama2.c reference story, as `peft generate` prints it (tests/.../Cli/CliTests.cs).
        Assert.Matches(@"Once upon a time\s+, there was a little girl named Lily\. She loved to play", run.Out);
    }
}
