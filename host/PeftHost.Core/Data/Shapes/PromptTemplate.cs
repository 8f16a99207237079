using System.Text;

namespace PeftHost.Core.Data;

/// <summary>
/// A text with <c>{field}</c> placeholders filled from a record's fields (<c>{{</c> and <c>}}</c>
/// stand for literal braces), e.g. <c>"Subject: {subject}\n{body}\nAnswer:"</c>.
/// </summary>
public sealed class PromptTemplate
{
    private readonly List<(bool IsField, string Text)> _parts = [];

    /// <summary>Parses <paramref name="template"/>.</summary>
    public PromptTemplate(string template)
    {
        Text = template;
        var literal = new StringBuilder();
        for (int i = 0; i < template.Length; i++)
        {
            char c = template[i];
            if ((c == '{' || c == '}') && i + 1 < template.Length && template[i + 1] == c)
            {
                literal.Append(c);
                i++;
                continue;
            }
            if (c == '}') throw new FormatException($"template '{template}': unmatched '}}' at {i}");
            if (c != '{') { literal.Append(c); continue; }
            int close = template.IndexOf('}', i + 1);
            if (close < 0) throw new FormatException($"template '{template}': unclosed '{{' at {i}");
            string name = template[(i + 1)..close];
            if (name.Length == 0) throw new FormatException($"template '{template}': empty placeholder at {i}");
            if (literal.Length > 0) { _parts.Add((false, literal.ToString())); literal.Clear(); }
            _parts.Add((true, name));
            i = close;
        }
        if (literal.Length > 0) _parts.Add((false, literal.ToString()));
    }

    /// <summary>The template as written.</summary>
    public string Text { get; }

    /// <summary>The placeholder names, in order of appearance.</summary>
    public IReadOnlyList<string> Fields => _parts.Where(p => p.IsField).Select(p => p.Text).Distinct().ToArray();

    /// <summary>Fills the placeholders with <paramref name="valueOf"/>.</summary>
    public string Format(Func<string, string> valueOf)
    {
        var result = new StringBuilder();
        foreach (var (isField, text) in _parts) result.Append(isField ? valueOf(text) : text);
        return result.ToString();
    }

    /// <summary>Fills the placeholders from <paramref name="record"/>; a missing field is an error naming the record's file and line.</summary>
    public string Format(DataRecord record, string? overrideField = null, string? overrideValue = null) =>
        Format(name => name == overrideField ? overrideValue! : record.Require(name));

    /// <inheritdoc />
    public override string ToString() => Text;
}
