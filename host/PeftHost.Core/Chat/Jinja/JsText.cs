using System.Globalization;
using System.Text;

namespace PeftHost.Core.Chat.Jinja;

/// <summary>
/// JavaScript's string and number conventions, which the reference renderer (@huggingface/jinja, written in
/// TypeScript) inherits: its whitespace set for trim and <c>\s</c>, its number-to-text conversion, JSON.stringify's
/// string escaping, parseInt/parseFloat prefixes. Matching them is what makes renders equal byte for byte.
/// </summary>
internal static class JsText
{
    /// <summary>JavaScript's <c>\s</c> and <c>String.prototype.trim</c> set (WhiteSpace plus LineTerminator).</summary>
    public static bool IsWhiteSpace(char c) => c switch
    {
        '\t' or '\n' or '\v' or '\f' or '\r' or ' ' or '\u00a0' or '\u1680' or '\u2028' or '\u2029'
            or '\u202f' or '\u205f' or '\u3000' or '\ufeff' => true,
        >= '\u2000' and <= '\u200a' => true,
        _ => false,
    };

    /// <summary>JavaScript's <c>\w</c>: ASCII letters, digits and underscore.</summary>
    public static bool IsWordChar(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_';

    public static string Trim(string s) => TrimEnd(TrimStart(s));

    public static string TrimStart(string s)
    {
        var i = 0;
        while (i < s.Length && IsWhiteSpace(s[i])) i++;
        return s[i..];
    }

    public static string TrimEnd(string s)
    {
        var n = s.Length;
        while (n > 0 && IsWhiteSpace(s[n - 1])) n--;
        return s[..n];
    }

    /// <summary><c>Number.prototype.toString()</c>: shortest round-trip digits, exponent form outside [1e-7, 1e21).</summary>
    public static string Number(double x)
    {
        if (double.IsNaN(x)) return "NaN";
        if (double.IsPositiveInfinity(x)) return "Infinity";
        if (double.IsNegativeInfinity(x)) return "-Infinity";
        if (x == 0) return "0";
        var sign = x < 0 ? "-" : "";
        var r = Math.Abs(x).ToString("R", CultureInfo.InvariantCulture);
        string digits;
        int point; // the decimal point sits after `point` digits
        var e = r.IndexOfAny(['E', 'e']);
        var mantissa = e >= 0 ? r[..e] : r;
        var exponent = e >= 0 ? int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture) : 0;
        var dot = mantissa.IndexOf('.');
        digits = mantissa.Replace(".", "");
        point = (dot >= 0 ? dot : mantissa.Length) + exponent;
        var leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.TrimStart('0');
        point -= leadingZeros;
        digits = digits.TrimEnd('0');
        var k = digits.Length;
        var n = point;
        if (k <= n && n <= 21) return sign + digits + new string('0', n - k);
        if (0 < n && n <= 21) return sign + digits[..n] + "." + digits[n..];
        if (-6 < n && n <= 0) return sign + "0." + new string('0', -n) + digits;
        var exp = n - 1;
        var expText = (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString(CultureInfo.InvariantCulture);
        return sign + (k == 1 ? digits : digits[..1] + "." + digits[1..]) + "e" + expText;
    }

    /// <summary><c>Number.prototype.toFixed(1)</c> for an integral value (the reference's float display).</summary>
    public static string IntegralFloat(double x) =>
        Math.Abs(x) >= 1e21 ? Number(x) : x.ToString("F1", CultureInfo.InvariantCulture);

    /// <summary><c>JSON.stringify(string)</c>: quotes, escapes for <c>"</c>, <c>\</c>, control characters and lone surrogates.</summary>
    public static string JsonString(string s, bool ensureAscii)
    {
        var b = new StringBuilder(s.Length + 2).Append('"');
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\b': b.Append("\\b"); break;
                case '\f': b.Append("\\f"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                default:
                    var lone = char.IsHighSurrogate(c) ? !(i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                        : char.IsLowSurrogate(c) && !(i > 0 && char.IsHighSurrogate(s[i - 1]));
                    if (c < 0x20 || lone || (ensureAscii && c >= 0x7f))
                        b.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else b.Append(c);
                    break;
            }
        }
        return b.Append('"').ToString();
    }

    /// <summary><c>parseInt(s, 10)</c>: optional leading whitespace and sign, then the longest run of digits.</summary>
    public static double ParseInt(string s)
    {
        var t = TrimStart(s);
        var i = 0;
        var negative = false;
        if (i < t.Length && t[i] is '+' or '-') negative = t[i++] == '-';
        var start = i;
        while (i < t.Length && char.IsAsciiDigit(t[i])) i++;
        if (i == start) return double.NaN;
        var value = double.Parse(t[start..i], CultureInfo.InvariantCulture);
        return negative ? -value : value;
    }

    /// <summary><c>parseFloat(s)</c>: the longest prefix (after whitespace) that is a decimal literal or Infinity.</summary>
    public static double ParseFloat(string s)
    {
        var m = System.Text.RegularExpressions.Regex.Match(TrimStart(s),
            @"^[+-]?(Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)");
        if (!m.Success) return double.NaN;
        var text = m.Value;
        if (text.EndsWith("Infinity", StringComparison.Ordinal))
            return text.StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
        return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>The reference's <c>titleCase</c>: uppercases each ASCII word character that starts a word.</summary>
    public static string TitleCase(string s)
    {
        var chars = s.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
            if (IsWordChar(chars[i]) && (i == 0 || !IsWordChar(chars[i - 1])))
                chars[i] = char.ToUpperInvariant(chars[i]);
        return new string(chars);
    }
}
