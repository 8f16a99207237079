using System.Globalization;
using System.Text;

namespace PeftHost.Core.Chat.Jinja;

/// <summary>
/// A value inside a rendering. The kinds and their truthiness, display and equality follow the reference renderer
/// (@huggingface/jinja), which is Python's Jinja as seen through JavaScript values.
/// </summary>
internal abstract class JinjaValue
{
    /// <summary>The kind's name in error messages ("string", "list", ...).</summary>
    public abstract string Kind { get; }

    /// <summary>Truthiness as in an <c>if</c>: Python's for containers, JavaScript's for scalars.</summary>
    public abstract bool IsTruthy { get; }

    /// <summary>The text a value renders as between <c>{{ }}</c> (the reference's <c>toString</c>).</summary>
    public abstract string Display();

    /// <summary>
    /// The text JavaScript's own string conversion gives for the underlying value, which the reference uses for
    /// <c>+</c> and <c>~</c> with a string (so <c>1.0 ~ ''</c> is "1", unlike <c>{{ 1.0 }}</c>).
    /// </summary>
    public virtual string ScriptText() => Display();

    public override string ToString() => Display();
}

internal sealed class JinjaUndefined : JinjaValue
{
    public static readonly JinjaUndefined Instance = new();
    public override string Kind => "undefined";
    public override bool IsTruthy => false;
    public override string Display() => "undefined";
}

internal sealed class JinjaNull : JinjaValue
{
    public static readonly JinjaNull Instance = new();
    public override string Kind => "none";
    public override bool IsTruthy => false;
    public override string Display() => "null";
}

internal sealed class JinjaBool : JinjaValue
{
    public static readonly JinjaBool True = new(true), False = new(false);
    private JinjaBool(bool value) => Value = value;
    public bool Value { get; }
    public static JinjaBool Of(bool value) => value ? True : False;
    public override string Kind => "boolean";
    public override bool IsTruthy => Value;
    public override string Display() => Value ? "true" : "false";
}

/// <summary>An integer or a float; the reference keeps the distinction for display and arithmetic.</summary>
internal abstract class JinjaNumber : JinjaValue
{
    public abstract double AsDouble { get; }
    public override bool IsTruthy => AsDouble != 0 && !double.IsNaN(AsDouble);
    public override string ScriptText() => JsText.Number(AsDouble);
}

internal sealed class JinjaInt(long value) : JinjaNumber
{
    public long Value { get; } = value;
    public override double AsDouble => Value;
    public override string Kind => "integer";
    public override string Display() => Value.ToString(CultureInfo.InvariantCulture);
}

internal sealed class JinjaFloat(double value) : JinjaNumber
{
    public double Value { get; } = value;
    public override double AsDouble => Value;
    public override string Kind => "float";

    public override string Display()
    {
        if (Value == 0 && double.IsNegative(Value)) return "-0.0";
        return Value % 1 == 0 ? JsText.IntegralFloat(Value) : JsText.Number(Value);
    }
}

internal sealed class JinjaString(string value) : JinjaValue
{
    public static readonly JinjaString Empty = new("");
    public string Value { get; } = value;
    public override string Kind => "string";
    public override bool IsTruthy => Value.Length > 0;
    public override string Display() => Value;
}

/// <summary>A list, or a tuple (a list written with commas, e.g. <c>(a, b)</c>).</summary>
internal sealed class JinjaArray(List<JinjaValue> items, bool isTuple = false) : JinjaValue
{
    public List<JinjaValue> Items { get; } = items;
    public bool IsTuple { get; } = isTuple;
    public override string Kind => IsTuple ? "tuple" : "list";
    public override bool IsTruthy => Items.Count > 0;
    public override string Display() => JinjaJson.Serialize(this, JinjaJson.Options.Default, undefinedAsNull: false);
    // JavaScript's Array.prototype.toString: the elements' own display joined with commas.
    public override string ScriptText() => string.Join(",", Items.Select(i => i.Display()));
}

/// <summary>
/// A mapping with insertion order. <see cref="IsKeywordArguments"/> marks the keyword arguments of a call, which the
/// reference passes to functions as a trailing mapping.
/// </summary>
internal sealed class JinjaObject(OrderedDictionary<string, JinjaValue> entries, bool isKeywordArguments = false) : JinjaValue
{
    public OrderedDictionary<string, JinjaValue> Entries { get; } = entries;
    public bool IsKeywordArguments { get; } = isKeywordArguments;
    public override string Kind => "mapping";
    public override bool IsTruthy => Entries.Count > 0;
    public override string Display() => JinjaJson.Serialize(this, JinjaJson.Options.Default, undefinedAsNull: false);
    public override string ScriptText() => "[object Map]";

    public JinjaArray Keys() => new(Entries.Keys.Select(k => (JinjaValue)new JinjaString(k)).ToList());
    public JinjaArray Values() => new(Entries.Values.ToList());
    public JinjaArray Items() => new(Entries.Select(e => (JinjaValue)new JinjaArray([new JinjaString(e.Key), e.Value])).ToList());
}

/// <summary><c>namespace(...)</c>: attributes that a <c>set ns.x = ...</c> inside a loop can change.</summary>
internal sealed class JinjaNamespace(OrderedDictionary<string, JinjaValue> entries) : JinjaValue
{
    public OrderedDictionary<string, JinjaValue> Entries { get; } = entries;
    public override string Kind => "namespace";
    public override bool IsTruthy => true;
    public override string Display() => JinjaJson.Serialize(this, JinjaJson.Options.Default, undefinedAsNull: false);
    public override string ScriptText() => "[object Map]";
}

/// <summary>A callable: a built-in, a bound string or mapping method, or a macro. Receives the caller's scope.</summary>
internal sealed class JinjaFunction(string name, Func<List<JinjaValue>, JinjaScope, JinjaValue> body) : JinjaValue
{
    public string Name { get; } = name;
    public Func<List<JinjaValue>, JinjaScope, JinjaValue> Body { get; } = body;
    public override string Kind => "function";
    public override bool IsTruthy => true;
    public override string Display() => $"function {Name}";
}

/// <summary>Equality as the reference computes it: JavaScript's loose <c>==</c> on the underlying values.</summary>
internal static class JinjaEquality
{
    public static bool Loose(JinjaValue a, JinjaValue b)
    {
        if (a is JinjaNull or JinjaUndefined || b is JinjaNull or JinjaUndefined)
            return a is JinjaNull or JinjaUndefined && b is JinjaNull or JinjaUndefined;
        if (IsReference(a) && IsReference(b)) return ReferenceEquals(a, b);
        if (IsReference(a)) return Loose(new JinjaString(a.ScriptText()), b);
        if (IsReference(b)) return Loose(a, new JinjaString(b.ScriptText()));
        if (a is JinjaBool ab) return Loose(new JinjaInt(ab.Value ? 1 : 0), b);
        if (b is JinjaBool bb) return Loose(a, new JinjaInt(bb.Value ? 1 : 0));
        return (a, b) switch
        {
            (JinjaString x, JinjaString y) => x.Value == y.Value,
            (JinjaNumber x, JinjaNumber y) => x.AsDouble == y.AsDouble,
            (JinjaNumber x, JinjaString y) => x.AsDouble == StringToNumber(y.Value),
            (JinjaString x, JinjaNumber y) => StringToNumber(x.Value) == y.AsDouble,
            _ => false,
        };
    }

    /// <summary>JavaScript's <c>===</c> on the underlying values (list membership, <c>unique</c>).</summary>
    public static bool Strict(JinjaValue a, JinjaValue b) => (a, b) switch
    {
        (JinjaString x, JinjaString y) => x.Value == y.Value,
        (JinjaNumber x, JinjaNumber y) => x.AsDouble == y.AsDouble,
        (JinjaBool x, JinjaBool y) => x.Value == y.Value,
        (JinjaNull, JinjaNull) or (JinjaUndefined, JinjaUndefined) => true,
        _ => ReferenceEquals(a, b),
    };

    private static bool IsReference(JinjaValue v) => v is JinjaArray or JinjaObject or JinjaNamespace or JinjaFunction;

    /// <summary>JavaScript's <c>Number(string)</c>.</summary>
    private static double StringToNumber(string s)
    {
        var t = JsText.Trim(s);
        if (t.Length == 0) return 0;
        if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return long.TryParse(t[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var hex) ? hex : double.NaN;
        if (t is "Infinity" or "+Infinity") return double.PositiveInfinity;
        if (t == "-Infinity") return double.NegativeInfinity;
        return double.TryParse(t, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out var d) ? d : double.NaN;
    }
}

/// <summary>The reference's <c>tojson</c>: Python's json.dumps layout, JavaScript's number and string text.</summary>
internal static class JinjaJson
{
    public sealed record Options(int? Indent, bool EnsureAscii, (string Item, string Key)? Separators, bool SortKeys)
    {
        public static readonly Options Default = new(null, false, null, false);
    }

    public static string Serialize(JinjaValue value, Options options, bool undefinedAsNull = true)
    {
        var b = new StringBuilder();
        Write(b, value, options, 0, undefinedAsNull);
        return b.ToString();
    }

    private static void Write(StringBuilder b, JinjaValue value, Options o, int depth, bool undefinedAsNull)
    {
        var (item, key) = o.Separators ?? (o.Indent is > 0 ? (",", ": ") : (", ", ": "));
        switch (value)
        {
            case JinjaNull: b.Append("null"); break;
            case JinjaUndefined: b.Append(undefinedAsNull ? "null" : "undefined"); break;
            case JinjaNumber n: b.Append(double.IsFinite(n.AsDouble) ? JsText.Number(n.AsDouble) : "null"); break;
            case JinjaBool v: b.Append(v.Value ? "true" : "false"); break;
            case JinjaString s: b.Append(JsText.JsonString(s.Value, o.EnsureAscii)); break;
            case JinjaArray { IsTuple: true }:
                // The reference cannot serialise (or display) a tuple; a template relying on it fails there too.
                throw new JinjaException("cannot convert a tuple to JSON");
            case JinjaArray a:
            {
                var indent = o.Indent is > 0 ? new string(' ', o.Indent.Value) : null;
                if (indent is null || a.Items.Count == 0)
                {
                    b.Append('[');
                    for (var i = 0; i < a.Items.Count; i++)
                    {
                        if (i > 0) b.Append(item);
                        Write(b, a.Items[i], o, depth + 1, undefinedAsNull);
                    }
                    b.Append(']');
                    break;
                }
                var basePad = "\n" + string.Concat(Enumerable.Repeat(indent, depth));
                var childPad = basePad + indent;
                b.Append('[').Append(childPad);
                for (var i = 0; i < a.Items.Count; i++)
                {
                    if (i > 0) b.Append(item).Append(childPad);
                    Write(b, a.Items[i], o, depth + 1, undefinedAsNull);
                }
                b.Append(basePad).Append(']');
                break;
            }
            case JinjaObject or JinjaNamespace:
            {
                var entries = (value is JinjaObject obj ? obj.Entries : ((JinjaNamespace)value).Entries).ToList();
                if (o.SortKeys) entries = entries.OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
                var indent = o.Indent is > 0 ? new string(' ', o.Indent.Value) : null;
                var basePad = indent is null ? "" : "\n" + string.Concat(Enumerable.Repeat(indent, depth));
                var childPad = basePad + indent;
                b.Append('{');
                for (var i = 0; i < entries.Count; i++)
                {
                    if (i > 0) b.Append(item);
                    if (indent is not null) b.Append(childPad);
                    b.Append(JsText.JsonString(entries[i].Key, o.EnsureAscii)).Append(key);
                    Write(b, entries[i].Value, o, depth + 1, undefinedAsNull);
                }
                if (indent is not null && entries.Count > 0) b.Append(basePad);
                b.Append('}');
                break;
            }
            default:
                throw new JinjaException($"cannot convert a {value.Kind} to JSON");
        }
    }
}
