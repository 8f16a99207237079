using System.Text;
using System.Text.Json.Nodes;
using PeftHost.Core.Chat;
using PeftHost.Core.Data;

namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>
/// The first examples of a data file as a recipe's <c>loadDataset(path)</c> would read them: the
/// records of the file (text split into paragraphs, loadDataset's default), the format inferred
/// from their fields as loadDataset infers it, and each example as text — the text itself, the
/// instruction and response, or for chat data the conversation rendered with the model's chat
/// template (turn by turn, <c>user: …</c>, when the model has none).
/// </summary>
/// <param name="Format">What the examples are: <c>text</c>, <c>instruction</c>, <c>chat (messages)</c>…; null when unknown.</param>
/// <param name="Examples">The examples shown, each with where it comes from (<c>line 3</c>).</param>
/// <param name="Note">How chat examples were rendered, or why the format is unknown; null when nothing to say.</param>
/// <param name="Error">Why the file cannot be read (naming its file and line); null when it can.</param>
public sealed record DatasetPreview(string? Format, IReadOnlyList<(string Origin, string Text)> Examples, string? Note, string? Error)
{
    /// <summary>Examples longer than this are cut (a preview, not a reader).</summary>
    public const int MaxExampleChars = 1200;

    /// <summary>
    /// Reads the first <paramref name="count"/> examples of <paramref name="file"/> (a full path).
    /// <paramref name="template"/> renders chat examples; <paramref name="templateProblem"/> says why there is none.
    /// </summary>
    public static DatasetPreview Read(string file, int count, ChatTemplate? template, string? templateProblem)
    {
        if (!File.Exists(file)) return Failed(Directory.Exists(file) ? $"{file} is a folder, not a data file" : $"{file}: no such file");
        var records = new List<DataRecord>();
        try
        {
            foreach (var record in RecordSource.Open(file, TextSplit.Paragraphs).Read())
            {
                records.Add(record);
                if (records.Count == count) break;
            }
            if (records.Count == 0) return new DatasetPreview(null, [], $"{file} holds no records", null);
            var fields = records[0].Fields.Keys.ToList();
            string? format = DatasetFormat.Infer(fields, FieldMapping(fields));
            return format switch
            {
                "chat" => Chat(records, template, templateProblem),
                "instruction" => Describe("instruction", records, FieldMapping(fields), null),
                "text" => Describe("text", records, FieldMapping(fields), null),
                _ => Describe(null, records, FieldMapping(fields),
                    $"the format cannot be told from the fields ({string.Join(", ", fields)}): the recipe must name it (format: \"classification\", fields: {{ … }})"),
            };
        }
        catch (Exception e) when (e is DataFormatException or IOException or InvalidDataException or UnauthorizedAccessException or ChatTemplateException)
        {
            return Failed(e.Message);
        }
    }

    private static DatasetPreview Failed(string error) => new(null, [], null, error);

    /// <summary>Alpaca's field names when the record looks like Alpaca, else the defaults (as loadDataset chooses them).</summary>
    private static FieldMapping FieldMapping(IReadOnlyCollection<string> fields) =>
        fields.Contains("instruction") && fields.Contains("output") ? Core.Data.FieldMapping.Alpaca : new Core.Data.FieldMapping();

    private static DatasetPreview Chat(IReadOnlyList<DataRecord> records, ChatTemplate? template, string? templateProblem)
    {
        string layout = ConversationFormat.Detect(records[0].Fields.Keys.ToList())!;
        var reader = ConversationFormat.Reader(layout);
        var examples = records.Select(r =>
        {
            JsonArray messages = reader.Read(r);
            string text = template is null
                ? string.Join("\n", messages.Select(m => $"{m!["role"]}: {m["content"]}"))
                : template.Render(messages, addGenerationPrompt: false);
            return (Where(r), Cut(text));
        }).ToList();
        string note = template is null
            ? $"shown turn by turn: {templateProblem ?? "no chat template"}"
            : $"rendered with {template.Origin}";
        return new DatasetPreview($"chat ({layout})", examples, note, null);
    }

    private static DatasetPreview Describe(string? format, IReadOnlyList<DataRecord> records, FieldMapping mapping, string? note)
    {
        var examples = records.Select(r => (Where(r), Cut(format switch
        {
            "text" => r.Optional(mapping.Text) ?? "",
            "instruction" => Fields(r, [mapping.Prompt, mapping.Input ?? "input", mapping.Response]),
            _ => Fields(r, r.Fields.Keys.ToList()),
        }))).ToList();
        return new DatasetPreview(format, examples, note, null);
    }

    /// <summary>The non-empty <paramref name="names"/> of <paramref name="record"/> as <c>name: value</c> lines.</summary>
    private static string Fields(DataRecord record, IReadOnlyList<string> names)
    {
        var text = new StringBuilder();
        foreach (string name in names)
            if (record.Optional(name) is { Length: > 0 } value) text.Append(text.Length == 0 ? "" : "\n").Append(name).Append(": ").Append(value);
        return text.ToString();
    }

    private static string Where(DataRecord record) => $"line {record.Line}";

    private static string Cut(string text) => text.Length <= MaxExampleChars ? text : text[..MaxExampleChars] + " …";
}
