using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Cli.Dashboard.Recipes;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>One field of the recipe parameter form: the declared default and what the user typed.</summary>
public sealed class RecipeParameterField(RecipeParameter parameter)
{
    /// <summary>The declared parameter.</summary>
    public RecipeParameter Parameter { get; } = parameter;

    /// <summary>The text in the field; starts as the default.</summary>
    public string Value { get; set; } = parameter.Default;

    /// <summary>True when the value differs from the default (it becomes a <c>--set</c>).</summary>
    public bool IsChanged => Value.Trim() != Parameter.Default;

    /// <summary>Why the value does not fit the parameter's type; null when it does.</summary>
    public string? Error => Parameter.Kind switch
    {
        RecipeParameterKind.Number when !double.TryParse(Value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || !double.IsFinite(d)
            => $"{Parameter.Name}: a number (default {Parameter.Default})",
        RecipeParameterKind.Boolean when Value.Trim() is not ("true" or "false") => $"{Parameter.Name}: true or false",
        RecipeParameterKind.Object when !IsJson<JsonObject>(Value) => $"{Parameter.Name}: a JSON object like {Parameter.Default}",
        RecipeParameterKind.Array when Value.TrimStart().StartsWith('[') && !IsJson<JsonArray>(Value) => $"{Parameter.Name}: a JSON array, or values separated by commas",
        _ => null,
    };

    /// <summary>The field as a <c>--set</c> assignment: <c>key=value</c>.</summary>
    public string Assignment => $"{Parameter.Name}={(Parameter.Kind == RecipeParameterKind.String ? Value : Value.Trim())}";

    private static bool IsJson<T>(string text) where T : JsonNode
    {
        try { return JsonNode.Parse(text) is T; }
        catch (JsonException) { return false; }
    }
}

/// <summary>
/// The Recipes panel's parameter form: one field per declared parameter, starting at its default;
/// what was changed becomes the <c>--set key=value</c> list of the run, so running from the
/// dashboard is exactly <c>peft run RECIPE --set …</c>.
/// </summary>
public sealed class RecipeParameterForm
{
    /// <summary>A form for <paramref name="parameters"/>.</summary>
    public RecipeParameterForm(IEnumerable<RecipeParameter> parameters) =>
        Fields = parameters.Select(p => new RecipeParameterField(p)).ToList();

    /// <summary>The fields, in declaration order.</summary>
    public IReadOnlyList<RecipeParameterField> Fields { get; }

    /// <summary>The field named <paramref name="name"/>.</summary>
    public RecipeParameterField this[string name] => Fields.First(f => f.Parameter.Name == name);

    /// <summary>The fields naming a data file (<see cref="RecipeParameter.IsDataset"/>), in declaration order.</summary>
    public IReadOnlyList<RecipeParameterField> DatasetFields => Fields.Where(f => f.Parameter.IsDataset).ToList();

    /// <summary>The problems with the current values (empty when the form can run).</summary>
    public IReadOnlyList<string> Errors => Fields.Select(f => f.Error).OfType<string>().ToList();

    /// <summary>The <c>key=value</c> assignments of the fields that differ from their defaults.</summary>
    public IReadOnlyList<string> SetValues() => Fields.Where(f => f.IsChanged).Select(f => f.Assignment).ToList();

    /// <summary>The equivalent command line: <c>peft run recipes/lora.js --set r=16</c>.</summary>
    public string CommandLine(string recipePath) => string.Join(" ", CommandParts(recipePath));

    /// <summary>
    /// The command line as shell rows of at most <paramref name="width"/> columns (<c>$ </c> first):
    /// breaks fall between <c>--set</c> assignments and every row but the last ends in <c> \</c>, so
    /// the rows selected and pasted into a shell run as one command.
    /// </summary>
    public IReadOnlyList<string> CommandRows(string recipePath, int width)
    {
        var rows = new List<string>();
        string row = "$";
        foreach (string part in CommandParts(recipePath))
        {
            if (row.Length > 2 && row.Length + 1 + part.Length + 2 > width)
            {
                rows.Add(row + " \\");
                row = " ";
            }
            row += " " + part;
        }
        rows.Add(row);
        return rows;
    }

    /// <summary>The pieces no row break may split: <c>peft run PATH</c>, then one <c>--set k=v</c> per changed field.</summary>
    private IEnumerable<string> CommandParts(string recipePath) =>
        SetValues().Select(v => "--set " + Quote(v)).Prepend("peft run " + Quote(recipePath));

    /// <summary>Puts every field back to its default.</summary>
    public void Reset()
    {
        foreach (var f in Fields) f.Value = f.Parameter.Default;
    }

    private static string Quote(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or '=' or ',' or ':' or '+')
            ? text : "'" + text.Replace("'", "'\\''") + "'";
}
