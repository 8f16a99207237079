using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Sdk;

/// <summary>
/// Reads numbers from <see cref="JsonNode"/>s whatever backs them: a parsed document stores a
/// JsonElement, while a node built in code may hold an int, long or double, and
/// <c>GetValue&lt;double&gt;()</c> refuses the mismatch.
/// </summary>
public static class JsonNumbers
{
    /// <summary>The node's value as a double; throws <see cref="FormatException"/> when it is not a number.</summary>
    public static double ToDouble(JsonNode node)
    {
        if (node.GetValueKind() != JsonValueKind.Number) throw new FormatException($"{node.ToJsonString()} is not a number");
        return double.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>The node's value as a whole number; throws <see cref="FormatException"/> otherwise.</summary>
    public static long ToInt64(JsonNode node)
    {
        double d = ToDouble(node);
        if (d != Math.Floor(d) || Math.Abs(d) > 9.0e15) throw new FormatException($"{node.ToJsonString()} is not a whole number");
        return (long)d;
    }
}
