using System.Globalization;

namespace PeftHost.Core.Recipes;

/// <summary>
/// The <c>--set key=value</c> values of a run, typed the way the command line suggests:
/// <c>true</c>/<c>false</c> become booleans, numbers (<c>8</c>, <c>3e-4</c>) numbers, anything else
/// stays a string. A later <c>--set</c> of the same key wins.
/// </summary>
public sealed class RecipeParameters
{
    private readonly Dictionary<string, (string Raw, object Value)> _values = new(StringComparer.Ordinal);

    /// <summary>Parses the pairs.</summary>
    public RecipeParameters(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        foreach (var (key, raw) in pairs)
        {
            if (string.IsNullOrWhiteSpace(key)) throw new ArgumentException($"--set needs key=value, got '={raw}'");
            _values.Remove(key);
            _values[key] = (raw, Parse(raw));
        }
    }

    /// <summary>The keys, in the order given.</summary>
    public IReadOnlyList<string> Keys => _values.Keys.ToList();

    /// <summary>The typed value of <paramref name="key"/>.</summary>
    public object this[string key] => _values[key].Value;

    /// <summary>The text given for <paramref name="key"/>.</summary>
    public string Raw(string key) => _values[key].Raw;

    /// <summary>Splits <c>key=value</c> (the value may contain '=').</summary>
    public static KeyValuePair<string, string> Split(string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"--set expects key=value, got '{assignment}'");
        return new(assignment[..eq].Trim(), assignment[(eq + 1)..]);
    }

    /// <summary>A boolean, a number or the string itself.</summary>
    public static object Parse(string raw)
    {
        string t = raw.Trim();
        if (t == "true") return true;
        if (t == "false") return false;
        if (t.Length > 0 && (char.IsAsciiDigit(t[0]) || t[0] is '-' or '+' or '.')
            && double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d))
            return d;
        return raw;
    }
}
