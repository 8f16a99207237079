using System.Text.Json.Nodes;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>
/// Adapter folders as Hugging Face PEFT writes them: base_model_name_or_path as the user named the
/// base, and a README.md model card; and <c>peft --version</c>, which the card quotes.
/// </summary>
public sealed class AdapterFolderHabitsTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Peft_version_prints_the_version_and_exits_0()
    {
        var (code, output, _) = CliTests.Run("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^\d+\.\d+\.\d+", output.Trim());
    }

    [Fact]
    public void Saved_adapter_names_its_base_as_given_and_has_a_model_card()
    {
        _h.RunOk("""
            import { loadModel, getPeftModel, loadDataset, train, evaluate, saveAdapter } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, loraAlpha: 8, targetModules: ["q_proj", "v_proj"] });
            const data = loadDataset(["Sparky the dragon lived in a big cave.", "Sparky the dragon found a red ball."], { format: "text", maxLength: 16 });
            train(model, data, { maxSteps: 3, batchSize: 2, learningRate: 1e-2 });
            evaluate(model, data);
            saveAdapter(model, "adapter");
            """);
        string folder = Path.Combine(_h.Output, "adapter");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "adapter_config.json")))!;
        Assert.Equal("models/stories260k", config["base_model_name_or_path"]!.GetValue<string>());

        string card = File.ReadAllText(Path.Combine(folder, "README.md"));
        var (_, version, _) = CliTests.Run("--version");
        Assert.StartsWith("---\nbase_model: \"models/stories260k\"\nlibrary_name: peft\n", card);
        Assert.Contains("\"peft_type\": \"LORA\"", card);           // the method and its config
        Assert.Contains("\"r\": 4", card);
        Assert.Contains("data: records; steps: 3; final training loss: ", card); // the data and steps
        Assert.Matches(@"\| loss \| \d", card);                       // the final metrics
        Assert.Contains("- PeftHost " + version.Trim(), card);
    }
}
