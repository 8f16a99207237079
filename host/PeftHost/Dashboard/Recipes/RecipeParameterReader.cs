using System.Globalization;
using System.Text.Json.Nodes;
using Acornima;
using Acornima.Ast;

namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>
/// Reads the parameters a recipe declares — the object literal passed to <c>defineParams({ … })</c> —
/// from its source, without running it: keys, literal defaults (numbers, strings, booleans, arrays
/// and objects of literals) and the <c>//</c> comment on each parameter's line. The source is parsed
/// by Acornima (the parser Jint runs recipes with), so strings and comments that look like code,
/// braces inside strings and nested objects read exactly as the runtime reads them. A default that
/// is not a literal is kept as its source text (<see cref="RecipeParameterKind.Expression"/>).
/// </summary>
public static class RecipeParameterReader
{
    /// <summary>
    /// The parameters of the first <c>defineParams</c> call given an object literal, in declaration
    /// order; empty when there is none or the source does not parse (the runtime would refuse it too).
    /// </summary>
    public static IReadOnlyList<RecipeParameter> Read(string source)
    {
        var comments = new List<Comment>();
        var parser = new Parser(new ParserOptions { OnComment = (in Comment c) => comments.Add(c) });
        Node program;
        try { program = parser.ParseModule(source); }
        catch (ParseErrorException)
        {
            // A recipe written as a plain script (with a top-level return, say) still reads.
            comments.Clear();
            try { program = new Parser(new ParserOptions { OnComment = (in Comment c) => comments.Add(c), AllowReturnOutsideFunction = true }).ParseScript(source); }
            catch (ParseErrorException) { return []; }
        }
        if (FindDeclaration(program) is not { } declaration) return [];
        var result = new List<RecipeParameter>();
        foreach (var node in declaration.Properties)
        {
            if (node is not Property property) continue; // a spread (...defaults) declares nothing by name
            string key = KeyName(property, source);
            string? comment = TrailingComment(property, source, comments);
            var (kind, text) = property.Shorthand ? (RecipeParameterKind.Expression, key)
                : property.Method || property.Kind != PropertyKind.Init ? (RecipeParameterKind.Expression, Text(property, source))
                : Describe(property.Value, source);
            result.Add(new RecipeParameter(key, kind, text, comment));
        }
        return result;
    }

    /// <summary>The first <c>defineParams({ … })</c> call's object literal, in source order.</summary>
    private static ObjectExpression? FindDeclaration(Node node)
    {
        if (node is CallExpression { Callee: Identifier { Name: "defineParams" } } call && call.Arguments.Count > 0 && call.Arguments[0] is ObjectExpression literal)
            return literal;
        foreach (var child in node.ChildNodes)
            if (FindDeclaration(child) is { } found) return found;
        return null;
    }

    private static string KeyName(Property property, string source) => property.Key switch
    {
        _ when property.Computed => Text(property.Key, source),
        Identifier id => id.Name,
        StringLiteral s => s.Value,
        Literal l => l.Raw,
        var other => Text(other, source),
    };

    /// <summary>A value's kind and its text as <c>--set</c> would give it; a non-literal keeps its source.</summary>
    private static (RecipeParameterKind Kind, string Text) Describe(Node value, string source)
    {
        var literal = Literal(value);
        return literal switch
        {
            null => (RecipeParameterKind.Expression, Text(value, source)),
            JsonArray a => (RecipeParameterKind.Array, a.ToJsonString()),
            JsonObject o => (RecipeParameterKind.Object, o.ToJsonString()),
            JsonValue v when v.TryGetValue(out bool b) => (RecipeParameterKind.Boolean, b ? "true" : "false"),
            // A number keeps its spelling (3e-4 stays 3e-4, 1_000 becomes 1000) when --set reads that spelling back.
            JsonValue v when v.TryGetValue(out double d) => (RecipeParameterKind.Number, Spelling(value, source) ?? d.ToString("R", CultureInfo.InvariantCulture)),
            JsonValue v => (RecipeParameterKind.String, v.GetValue<string>()),
            _ => (RecipeParameterKind.Expression, Text(value, source)),
        };
    }

    /// <summary>A literal (of literals) as JSON; null when <paramref name="node"/> is not one (null itself is not a usable default).</summary>
    private static JsonNode? Literal(Node node) => node switch
    {
        StringLiteral s => JsonValue.Create(s.Value),
        NumericLiteral n => JsonValue.Create(n.Value),
        BooleanLiteral b => JsonValue.Create(b.Value),
        UnaryExpression { Operator: Operator.UnaryNegation, Argument: NumericLiteral n } => JsonValue.Create(-n.Value),
        UnaryExpression { Operator: Operator.UnaryPlus, Argument: NumericLiteral n } => JsonValue.Create(n.Value),
        TemplateLiteral { Expressions.Count: 0 } t when t.Quasis[0].Value.Cooked is { } text => JsonValue.Create(text),
        ArrayExpression a => Array(a),
        ObjectExpression o => Object(o),
        _ => null,
    };

    private static JsonArray? Array(ArrayExpression array)
    {
        var result = new JsonArray();
        foreach (var element in array.Elements)
        {
            if (element is null || Literal(element) is not { } item) return null;
            result.Add(item);
        }
        return result;
    }

    private static JsonObject? Object(ObjectExpression obj)
    {
        var result = new JsonObject();
        foreach (var node in obj.Properties)
        {
            if (node is not Property { Computed: false, Shorthand: false, Method: false, Kind: PropertyKind.Init } property) return null;
            string? key = property.Key switch { Identifier id => id.Name, StringLiteral s => s.Value, NumericLiteral n => n.Raw, _ => null };
            if (key is null || Literal(property.Value) is not { } item) return null;
            result[key] = item;
        }
        return result;
    }

    /// <summary>A number's source spelling without digit separators, when <c>--set</c> reads it back as a number.</summary>
    private static string? Spelling(Node value, string source)
    {
        string spelled = Text(value, source).Replace("_", "");
        return double.TryParse(spelled, NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? spelled : null;
    }

    /// <summary>
    /// The <c>// comment</c> after <paramref name="property"/> on its line, with nothing but its comma
    /// between (a comment after a later parameter on the same line is that parameter's); null when none.
    /// </summary>
    private static string? TrailingComment(Property property, string source, List<Comment> comments)
    {
        foreach (var c in comments)
        {
            if (c.Kind != CommentKind.Line || c.Start < property.End) continue;
            string between = source[property.End..c.Start];
            if (between.Contains('\n') || between.Trim().TrimStart(',').Trim().Length > 0) return null;
            string text = source[c.ContentRange.Start..c.ContentRange.End].Trim();
            return text.Length == 0 ? null : text;
        }
        return null;
    }

    private static string Text(Node node, string source) => source[node.Start..node.End].Trim();
}
