using System.Globalization;

namespace PeftHost.Quantization;

/// <summary>
/// Python's <c>repr(float)</c>: the shortest digits that round-trip the double, positional when
/// the decimal exponent is in [−4, 16) (always with a fractional part: <c>1.0</c>), otherwise
/// scientific with a signed two-digit exponent (<c>1e-05</c>, <c>1.5e+16</c>).
/// </summary>
public static class PythonFloat
{
    /// <summary>The text Python prints for <paramref name="value"/>.</summary>
    public static string Repr(double value)
    {
        if (double.IsNaN(value)) return "NaN";
        if (double.IsPositiveInfinity(value)) return "Infinity";
        if (double.IsNegativeInfinity(value)) return "-Infinity";
        string sign = double.IsNegative(value) ? "-" : "";
        if (value == 0) return sign + "0.0";
        var (digits, decimalPoint) = ShortestDigits(Math.Abs(value));
        if (decimalPoint > -4 && decimalPoint <= 16)
        {
            if (decimalPoint <= 0) return sign + "0." + new string('0', -decimalPoint) + digits;
            if (decimalPoint >= digits.Length) return sign + digits + new string('0', decimalPoint - digits.Length) + ".0";
            return sign + digits[..decimalPoint] + "." + digits[decimalPoint..];
        }
        int exponent = decimalPoint - 1;
        string mantissa = digits.Length == 1 ? digits : digits[..1] + "." + digits[1..];
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
    }

    /// <summary>Shortest round-trip digits (no leading or trailing zeros) and the position of the decimal point: value = 0.DIGITS × 10^point.</summary>
    private static (string Digits, int DecimalPoint) ShortestDigits(double positive)
    {
        string r = positive.ToString("R", CultureInfo.InvariantCulture);
        int exponent = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        int dot = r.IndexOf('.');
        string intPart = dot < 0 ? r : r[..dot];
        string fracPart = dot < 0 ? "" : r[(dot + 1)..];
        string all = intPart + fracPart;
        int point = intPart.Length + exponent;
        int leading = 0;
        while (leading < all.Length - 1 && all[leading] == '0') leading++;
        all = all[leading..];
        point -= leading;
        return (all.TrimEnd('0'), point);
    }
}
