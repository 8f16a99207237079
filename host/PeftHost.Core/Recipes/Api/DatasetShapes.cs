using Jint;
using PeftHost.Core.Data;
using PeftHost.Core.Recipes.Interop;

namespace PeftHost.Core.Recipes.Api;

/// <summary>Builds a dataset's <see cref="IDatasetShape"/> from <c>loadDataset</c>'s options, inferring the format from the fields when not given.</summary>
internal static class DatasetShapes
{
    /// <summary>The formats <c>loadDataset</c> knows.</summary>
    public static readonly string[] Formats = ["text", "instruction", "classification"];

    /// <summary>The format to use: the one asked for, else what the first record's fields suggest.</summary>
    public static string Format(string? asked, IReadOnlyList<DataRecord> records, FieldMapping fields)
    {
        if (asked is not null)
        {
            if (Formats.Contains(asked)) return asked;
            string? hint = Sdk.KeyNames.DidYouMean(asked, Formats);
            throw new RecipeApiException($"loadDataset: unknown format '{asked}'" + (hint is null ? "" : $"; did you mean '{hint}'?") + $" (formats: {string.Join(", ", Formats)})");
        }
        var first = records.FirstOrDefault()?.Fields.Keys.ToHashSet() ?? [];
        if (first.Contains(fields.Response) || first.Contains("output") && first.Contains("instruction")) return "instruction";
        if (first.Contains(fields.Text)) return "text";
        throw new RecipeApiException($"loadDataset: cannot tell the format from the fields ({string.Join(", ", first)}); pass format: \"text\", \"instruction\" or \"classification\" (and fields: {{ … }} to name them)");
    }

    /// <summary>The field names: Alpaca's when the records look like Alpaca, overridden by the recipe's <c>fields</c>.</summary>
    public static FieldMapping Fields(OptionValues options, IReadOnlyList<DataRecord> records)
    {
        var first = records.FirstOrDefault()?.Fields.Keys.ToHashSet() ?? [];
        var mapping = first.Contains("instruction") && first.Contains("output") ? FieldMapping.Alpaca : new FieldMapping();
        if (options.Object("fields") is not { } given) return mapping;
        var values = FieldsSchema.Read(given);
        return mapping with
        {
            Text = values.String("text", mapping.Text),
            Prompt = values.String("prompt", mapping.Prompt),
            Input = values.String("input", mapping.Input ?? "input"),
            Response = values.String("response", mapping.Response),
            Label = values.String("label", mapping.Label),
        };
    }

    /// <summary>The keys of <c>loadDataset</c>'s <c>fields</c> option.</summary>
    public static readonly OptionSchema FieldsSchema = new("loadDataset fields",
        new OptionSpec("text", OptionKind.String, "The text field (text and classification; default \"text\")."),
        new OptionSpec("prompt", OptionKind.String, "The instruction field (default \"prompt\", or \"instruction\" for Alpaca data)."),
        new OptionSpec("input", OptionKind.String, "The optional input field (default \"input\")."),
        new OptionSpec("response", OptionKind.String, "The response field (default \"response\", or \"output\" for Alpaca data)."),
        new OptionSpec("label", OptionKind.String, "The label field (classification; default \"label\")."));

    /// <summary>The shape for <paramref name="format"/>.</summary>
    public static IDatasetShape Shape(string format, OptionValues options, FieldMapping fields)
    {
        int maxLength = options.Int("maxLength", 256);
        if (maxLength < 2) throw new RecipeApiException($"loadDataset: maxLength must be at least 2, got {maxLength}");
        switch (format)
        {
            case "text":
                return new CausalTextShape(maxLength, options.Bool("packing", true) ? CausalLayout.Packed : CausalLayout.TruncateAndPad) { TextField = fields.Text };
            case "instruction":
                string template = options.String("template", "alpaca");
                var instruction = template switch
                {
                    "alpaca" => InstructionTemplate.Alpaca,
                    "chat" => InstructionTemplate.Chat,
                    _ when template.Contains("{prompt}", StringComparison.Ordinal) => InstructionTemplate.Custom(template),
                    _ => throw new RecipeApiException($"loadDataset: template must be \"alpaca\", \"chat\" or a text with {{prompt}} (and optionally {{input}}), got '{template}'"),
                };
                return new InstructionShape(maxLength, instruction) { Fields = fields };
            default:
                return new ClassificationShape(maxLength, new PromptTemplate(options.String("template", $"{{{fields.Text}}}\nLabel:")))
                {
                    LabelField = fields.Label,
                    LabelWords = Labels(options),
                    FitField = options.String("fitField"),
                };
        }
    }

    private static IReadOnlyDictionary<string, string>? Labels(OptionValues options)
    {
        var raw = options.Raw("labels");
        if (raw.IsUndefined()) return null;
        if (raw.IsArray()) return raw.AsArray().ToArray().Select(v => v.ToString()).ToDictionary(l => l, l => l);
        if (raw.IsObject())
        {
            var obj = raw.AsObject();
            return obj.GetOwnPropertyKeys(Jint.Runtime.Types.String).ToDictionary(k => k.ToString(), k => obj.Get(k).ToString());
        }
        throw new RecipeApiException("loadDataset: labels must be an array of labels or an object of label → word");
    }
}
