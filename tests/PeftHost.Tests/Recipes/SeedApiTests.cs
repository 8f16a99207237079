using PeftHost.Cli.Commands;
using PeftHost.Tests.Training;

namespace PeftHost.Tests.Recipes;

/// <summary>
/// <c>setSeed</c>. In the process-wide torch collection: the seed goes into torch's global
/// generator, which a test running in parallel would draw from in between.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class SeedApiTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void SetSeed_makes_adapter_initialisation_reproducible()
    {
        // lora_A draws from torch's global generator: the same seed gives the same bytes, another seed others.
        byte[] AdapterBytes(int seed, string folder)
        {
            _h.RunOk($$"""
                import { setSeed, loadModel, getPeftModel, saveAdapter } from "peft";
                setSeed({{seed}});
                const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, targetModules: ["q_proj", "v_proj"] });
                saveAdapter(model, "{{folder}}");
                """);
            return File.ReadAllBytes(Path.Combine(_h.Output, folder, "adapter_model.safetensors"));
        }
        var first = AdapterBytes(7, "a");
        Assert.Equal(first, AdapterBytes(7, "b"));
        Assert.NotEqual(first, AdapterBytes(8, "c"));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("\"42\"")]
    public void SetSeed_refuses_a_seed_that_is_not_a_non_negative_integer(string seed)
    {
        var run = _h.Run("recipe.js", $$"""
            import { setSeed } from "peft";
            setSeed({{seed}});
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 2, 1, "setSeed: seed must be a non-negative integer");
    }
}
