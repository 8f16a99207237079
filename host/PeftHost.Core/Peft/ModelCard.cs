using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace PeftHost.Core.Peft;

/// <summary>
/// The <c>README.md</c> model card PEFT's <c>save_pretrained</c> puts beside an adapter: YAML front
/// matter that the Hugging Face Hub reads (<c>base_model</c>, <c>library_name: peft</c>), then the
/// base model, the method and its configuration, the training data and steps, the final metrics
/// and the PeftHost version that wrote it.
/// </summary>
public static class ModelCard
{
    /// <summary>The card's file name in an adapter folder.</summary>
    public const string FileName = "README.md";

    /// <summary>The card of adapter <paramref name="name"/> saved with <paramref name="config"/> (its adapter_config.json).</summary>
    public static string Render(string name, JsonObject config, AdapterHistory history)
    {
        string? baseModel = config["base_model_name_or_path"]?.GetValue<string>();
        string peftType = config["peft_type"]?.GetValue<string>() ?? "unknown";
        var card = new StringBuilder();
        card.Append("---\n");
        if (baseModel is not null) card.Append("base_model: ").Append(Yaml(baseModel)).Append('\n');
        card.Append("library_name: peft\n");
        card.Append("tags:\n- ").Append(Yaml(peftType.ToLowerInvariant())).Append("\n- pefthost\n");
        card.Append("---\n\n");
        card.Append("# Adapter '").Append(name).Append("'\n\n");
        card.Append("A ").Append(peftType).Append(" adapter in Hugging Face PEFT's format, on the base model `")
            .Append(baseModel ?? "(not recorded)").Append("`.\n\n");

        card.Append("## Method and configuration\n\n```json\n")
            .Append(AdapterFiles.Sorted(config).ToJsonString(IO.Json.Indented)).Append("\n```\n\n");

        card.Append("## Training\n\n");
        if (history.Runs.Count == 0) card.Append("Not trained in the session that saved it.\n\n");
        foreach (var run in history.Runs)
            card.Append(Invariant($"- data: {run.Data}; steps: {run.Steps}") + (run.FinalLoss is { } loss ? Invariant($"; final training loss: {loss:G6}") : "") + "\n");
        if (history.Runs.Count > 0) card.Append('\n');

        card.Append("## Final metrics\n\n");
        if (history.LatestEvaluation is { } evaluation)
        {
            card.Append("On ").Append(evaluation.Data).Append(":\n\n| metric | value |\n|---|---:|\n");
            foreach (var (metric, value) in evaluation.Metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                card.Append(Invariant($"| {metric} | {value:G6} |\n"));
            card.Append('\n');
        }
        else card.Append("Not evaluated in the session that saved it.\n\n");

        card.Append("## Framework versions\n\n- PeftHost ").Append(PeftHostVersion.Current).Append('\n');
        return card.ToString();
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>A YAML scalar: quoted, so paths and names with ':' or '#' stay one string.</summary>
    private static string Yaml(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
