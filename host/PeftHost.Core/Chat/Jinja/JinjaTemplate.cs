using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Core.Chat.Jinja;

/// <summary>
/// A parsed Jinja template, PeftHost's own interpreter for the subset chat templates use. It renders exactly what
/// the reference renderer @huggingface/jinja (used by transformers.js) renders, with <c>trim_blocks</c> and
/// <c>lstrip_blocks</c> on as transformers sets them. Sandboxed: a template can only compute text from the values
/// it is given (no file, network or clock access beyond <c>strftime_now</c>), and a rendering is bounded by
/// <see cref="JinjaLimits"/>.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly TemplateBody _body;

    private JinjaTemplate(TemplateBody body) => _body = body;

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <exception cref="JinjaException">The template does not parse; the exception names the line.</exception>
    public static JinjaTemplate Parse(string source) => new(JinjaParser.Parse(JinjaLexer.Tokenize(source)));

    /// <summary>Renders with the variables of <paramref name="context"/> (JSON values: strings, numbers, lists, objects...).</summary>
    /// <exception cref="JinjaException">Rendering failed (including the template's own <c>raise_exception</c>).</exception>
    public string Render(JsonObject context, JinjaLimits? limits = null)
    {
        var budget = new JinjaBudget(limits ?? JinjaLimits.Default);
        var globals = new JinjaScope();
        JinjaBuiltins.AddGlobals(globals, budget);
        foreach (var (name, value) in context)
        {
            if (globals.DeclaresHere(name)) throw new JinjaException($"the variable '{name}' is a built-in name and cannot be passed in");
            globals.Set(name, FromJson(value));
        }
        return new JinjaInterpreter(budget).Render(_body, globals);
    }

    /// <summary>A JSON value as a template value; a number without a fraction is an integer (as the reference has it).</summary>
    internal static JinjaValue FromJson(JsonNode? node) => node switch
    {
        null => JinjaNull.Instance,
        JsonArray array => new JinjaArray(array.Select(FromJson).ToList()),
        JsonObject obj => new JinjaObject(new OrderedDictionary<string, JinjaValue>(obj.Select(p => KeyValuePair.Create(p.Key, FromJson(p.Value))))),
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => new JinjaString(value.GetValue<string>()),
            JsonValueKind.True => JinjaBool.True,
            JsonValueKind.False => JinjaBool.False,
            JsonValueKind.Number => JinjaBuiltins.Number(double.Parse(value.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture)),
            _ => JinjaNull.Instance,
        },
        _ => JinjaNull.Instance,
    };
}
