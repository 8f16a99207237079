using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Quantization;

/// <summary>
/// <c>json.dumps</c> with Python's defaults: separators ", " and ": ", keys in insertion order,
/// non-ASCII escaped, floats as <see cref="PythonFloat.Repr"/>, integers as integers. Numbers
/// stored as <see cref="double"/> or <see cref="float"/> in the <see cref="JsonNode"/> are
/// Python floats; integral types are Python ints.
/// </summary>
public static class PythonJson
{
    /// <summary>The text Python's <c>json.dumps</c> gives for <paramref name="node"/>.</summary>
    public static string Dumps(JsonNode? node)
    {
        var sb = new StringBuilder();
        Write(sb, node);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, JsonNode? node)
    {
        switch (node)
        {
            case null: sb.Append("null"); break;
            case JsonObject o:
                sb.Append('{');
                bool first = true;
                foreach (var (key, value) in o)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    WriteString(sb, key);
                    sb.Append(": ");
                    Write(sb, value);
                }
                sb.Append('}');
                break;
            case JsonArray a:
                sb.Append('[');
                for (int i = 0; i < a.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    Write(sb, a[i]);
                }
                sb.Append(']');
                break;
            case JsonValue v: WriteValue(sb, v); break;
        }
    }

    private static void WriteValue(StringBuilder sb, JsonValue v)
    {
        if (v.TryGetValue<JsonElement>(out var element))
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Number:
                    // Parsed text: an integer literal stays an int, anything else is a float.
                    string raw = element.GetRawText();
                    sb.Append(raw.AsSpan().IndexOfAny(".eE") < 0 ? raw : PythonFloat.Repr(element.GetDouble()));
                    return;
                case JsonValueKind.String: WriteString(sb, element.GetString()!); return;
                case JsonValueKind.True: sb.Append("true"); return;
                case JsonValueKind.False: sb.Append("false"); return;
                case JsonValueKind.Null: sb.Append("null"); return;
            }
        }
        if (v.TryGetValue<bool>(out var b)) { sb.Append(b ? "true" : "false"); return; }
        if (v.TryGetValue<string>(out var s)) { WriteString(sb, s); return; }
        if (v.TryGetValue<int>(out var i)) { sb.Append(i.ToString(CultureInfo.InvariantCulture)); return; }
        if (v.TryGetValue<long>(out var l)) { sb.Append(l.ToString(CultureInfo.InvariantCulture)); return; }
        if (v.TryGetValue<double>(out var d)) { sb.Append(PythonFloat.Repr(d)); return; }
        if (v.TryGetValue<float>(out var f)) { sb.Append(PythonFloat.Repr(f)); return; }
        throw new ArgumentException($"cannot write {v.ToJsonString()} as Python JSON");
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || c > 0x7e) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
