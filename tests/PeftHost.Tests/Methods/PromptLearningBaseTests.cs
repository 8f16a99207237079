using PeftHost.Tests.Recipes;

namespace PeftHost.Tests.Methods;

/// <summary>
/// Issue #18: prompt tuning, P-tuning and prefix tuning check their config against the model in one shared base
/// (the SDK's PromptLearningMethod), so a config for another model is refused the same way by all three.
/// </summary>
public sealed class PromptLearningBaseTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Theory]
    [InlineData("prompt_tuning")]
    [InlineData("p_tuning")]
    [InlineData("prefix_tuning")]
    public void A_config_for_a_model_with_other_layers_is_refused_naming_num_layers(string method)
    {
        var run = _h.Run("recipe.js", $$"""
            import { loadModel, getPeftModel } from "peft";
            getPeftModel(loadModel("models/stories260k"), { method: "{{method}}", numVirtualTokens: 4, numLayers: 3 });
            """);
        Assert.Equal(1, run.Code);
        Assert.Contains("num_layers is 3 but the model has 5 layers", RecipeAssert.FailureLine(run.Err));
    }
}
