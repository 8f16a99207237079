using Jint;
using PeftHost.Core.Data;
using PeftHost.Core.Recipes.Interop;

namespace PeftHost.Core.Recipes.Api;

/// <summary>Builds a dataset's <see cref="IDatasetShape"/> from <c>loadDataset</c>'s options, inferring the format from the fields when not given.</summary>
internal static class DatasetShapes
{
    /// <summary>The formats <c>loadDataset</c> knows.</summary>
    public static readonly string[] Formats = ["text", "instruction", "classification", "chat"];

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
        if (DatasetFormat.Infer(first, fields) is { } inferred) return inferred;
        throw new RecipeApiException($"loadDataset: cannot tell the format from the fields ({string.Join(", ", first)}); pass format: \"text\", \"instruction\", \"classification\" or \"chat\" (and fields: {{ … }} to name them)");
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
    public static IDatasetShape Shape(string format, OptionValues options, FieldMapping fields, IReadOnlyList<DataRecord> records)
    {
        int maxLength = options.Int("maxLength", 256);
        if (maxLength < 2) throw new RecipeApiException($"loadDataset: maxLength must be at least 2, got {maxLength}");
        switch (format)
        {
            case "chat":
                return Conversations(options, records, maxLength);
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

    /// <summary>
    /// A chat dataset: conversations in the layout asked for (<c>chatFormat</c>), else built from fields (<c>messages</c>),
    /// else in the layout the first record's fields show. Every record is read here, so a malformed one fails at loadDataset.
    /// </summary>
    private static ConversationShape Conversations(OptionValues options, IReadOnlyList<DataRecord> records, int maxLength)
    {
        string? layout = options.String("chatFormat");
        if (layout is not null && options.Has("messages"))
            throw new RecipeApiException("loadDataset: give either chatFormat (conversations in the data) or messages (conversations built from fields), not both");
        IConversationReader reader;
        if (options.Has("messages")) reader = FieldTurns(options.Raw("messages"));
        else
        {
            var first = records[0];
            layout ??= ConversationFormat.Detect(first.Fields.Keys.ToArray())
                ?? throw new RecipeApiException($"loadDataset: {first.Origin}: cannot tell the conversation layout from the fields ({string.Join(", ", first.Fields.Keys)}); " +
                    $"chat data needs \"messages\" (role/content), \"conversations\" (ShareGPT from/value) or instruction/output (Alpaca), or messages: [{{ role, content: \"{{field}}\" }}, …] to build them from fields");
            if (!ConversationFormat.Names.Contains(layout))
                throw new RecipeApiException($"loadDataset: unknown chatFormat '{layout}' (chatFormat: {string.Join(", ", ConversationFormat.Names.Select(n => $"\"{n}\""))})");
            reader = ConversationFormat.Reader(layout);
        }
        string? fitField = options.String("fitField");
        if (fitField is not null && (reader is not FieldConversationReader built || !built.Fields.Contains(fitField)))
            throw new RecipeApiException($"loadDataset: fitField '{fitField}' must be one of the fields the messages option reads" +
                (reader is FieldConversationReader f ? $" ({string.Join(", ", f.Fields)})" : ""));
        foreach (var record in records) reader.Read(record);
        return new ConversationShape(maxLength, reader)
        {
            TrainOnResponsesOnly = options.Bool("trainOnResponsesOnly", true),
            Packing = options.Bool("packing", false),
            FitField = fitField,
        };
    }

    /// <summary>The <c>messages</c> option: turns whose contents are templates over the record's fields.</summary>
    private static FieldConversationReader FieldTurns(Jint.Native.JsValue value)
    {
        var turns = new List<(string, PromptTemplate)>();
        var items = value.AsArray().ToArray();
        for (int i = 0; i < items.Length; i++)
        {
            var turn = items[i].IsObject() ? items[i].AsObject() : null;
            var role = turn?.Get("role");
            var content = turn?.Get("content");
            if (role is null || !role.IsString() || content is null || !content.IsString())
                throw new RecipeApiException($"loadDataset: messages[{i}] must be {{ role: \"system\" | \"user\" | \"assistant\", content: \"text with {{field}} placeholders\" }}");
            try { turns.Add((role.AsString(), new PromptTemplate(content.AsString()))); }
            catch (FormatException e) { throw new RecipeApiException($"loadDataset: messages[{i}].content: {e.Message}"); }
        }
        try { return new FieldConversationReader(turns); }
        catch (ArgumentException e) { throw new RecipeApiException($"loadDataset: messages: {e.Message}"); }
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
