using System.Text.Json.Nodes;
using PeftHost.Tests.Recipes;

namespace PeftHost.Tests.Methods;

/// <summary>
/// Issue #18: LoRA, AdaLoRA and IA3 find their targets through one driver (the SDK's LinearTunerMethod, PEFT's
/// BaseTuner.inject_adapter), so module selection and its errors are the same for all three, from a recipe.
/// </summary>
public sealed class InjectDriverTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>The options a method needs besides the module selection (AdaLoRA's schedule needs its step count).</summary>
    private static string Needs(string method) => method == "adalora" ? ", totalStep: 10" : "";

    private const string AllLinearNames = """["down_proj","gate_proj","k_proj","o_proj","q_proj","up_proj","v_proj"]""";

    [Theory]
    [InlineData("lora")]
    [InlineData("adalora")]
    [InlineData("ia3")]
    public void All_linear_in_any_case_is_saved_as_every_linear_name_but_lm_head_whatever_is_excluded(string method)
    {
        // PEFT's _maybe_include_all_linear_layers: "all-linear" (compared lower-cased) becomes the set of the model's
        // linear layer names, before exclude_modules picks targets; the saved config holds that list, not the shorthand.
        _h.RunOk($$"""
            import { loadModel, getPeftModel, printTrainableParameters, saveAdapter, log } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), { method: "{{method}}", targetModules: "ALL-Linear", excludeModules: ".*mlp.*"{{Needs(method)}} });
            saveAdapter(model, "adapters/a");
            """);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_h.Output, "adapters", "a", "adapter_config.json")))!;
        Assert.Equal(AllLinearNames, config["target_modules"]!.ToJsonString());
        Assert.Equal(".*mlp.*", config["exclude_modules"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("lora")]
    [InlineData("adalora")]
    [InlineData("ia3")]
    public void A_config_that_matches_nothing_is_refused_listing_the_linear_layer_names(string method)
    {
        var run = _h.Run("recipe.js", $$"""
            import { loadModel, getPeftModel } from "peft";
            getPeftModel(loadModel("models/stories260k"), { method: "{{method}}", targetModules: ["query", "value"]{{Needs(method)}} });
            """);
        Assert.Equal(1, run.Code);
        Assert.Contains("target modules [query, value] not found in the model; available linear modules: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj",
            RecipeAssert.FailureLine(run.Err));
    }

    [Theory]
    [InlineData("lora", "LoRA")]
    [InlineData("adalora", "AdaLoRA")]
    [InlineData("ia3", "IA3")]
    public void A_target_that_is_not_linear_is_refused_naming_its_path(string method, string display)
    {
        var run = _h.Run("recipe.js", $$"""
            import { loadModel, getPeftModel } from "peft";
            getPeftModel(loadModel("models/stories260k"), { method: "{{method}}", targetModules: ["mlp"]{{Needs(method)}} });
            """);
        Assert.Equal(1, run.Code);
        Assert.Contains($"target module 'model.layers.0.mlp' is not a linear layer: {display} adapts linear layers only", RecipeAssert.FailureLine(run.Err));
    }
}
