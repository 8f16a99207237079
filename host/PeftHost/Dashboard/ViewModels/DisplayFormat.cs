using System.Globalization;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>How numbers, sizes, rates and durations read in the dashboard and the console progress line.</summary>
public static class DisplayFormat
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary><c>0:03:12</c> (hours are not padded; days fold into hours). Negative spans read as <c>0:00:00</c>.</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero) span = TimeSpan.Zero;
        long totalSeconds = (long)Math.Round(span.TotalSeconds);
        return string.Create(Invariant, $"{totalSeconds / 3600}:{totalSeconds / 60 % 60:00}:{totalSeconds % 60:00}");
    }

    /// <summary><c>ETA 0:03:12</c>, or <c>ETA --:--</c> when unknown.</summary>
    public static string Eta(TimeSpan? eta) => eta is { } e ? "ETA " + Duration(e) : "ETA --:--";

    /// <summary>Binary units: <c>512 B</c>, <c>12.0 KiB</c>, <c>412.3 MiB</c>, <c>1.21 GiB</c>.</summary>
    public static string Bytes(long bytes)
    {
        if (bytes < 1024) return string.Create(Invariant, $"{bytes} B");
        double kib = bytes / 1024.0;
        if (kib < 1024) return string.Create(Invariant, $"{kib:0.0} KiB");
        double mib = kib / 1024;
        if (mib < 1024) return string.Create(Invariant, $"{mib:0.0} MiB");
        return string.Create(Invariant, $"{mib / 1024:0.00} GiB");
    }

    /// <summary><c>1,234 tok/s</c>.</summary>
    public static string TokensPerSecond(double rate) => string.Create(Invariant, $"{rate:N0} tok/s");

    /// <summary>A loss or metric: four decimals (<c>2.3141</c>), or <c>nan</c>/<c>inf</c>.</summary>
    public static string Metric(double value) =>
        double.IsNaN(value) ? "nan" : double.IsInfinity(value) ? (value > 0 ? "inf" : "-inf") : value.ToString("0.0000", Invariant);

    /// <summary>A learning rate: <c>3.00e-04</c>.</summary>
    public static string LearningRate(double value) => value.ToString("0.00e+00", Invariant);

    /// <summary>A count with thousands separators: <c>4,194,304</c>.</summary>
    public static string Count(long value) => value.ToString("N0", Invariant);

    /// <summary>A short count: <c>812</c>, <c>12.3K</c>, <c>4.19M</c>, <c>6.74B</c>.</summary>
    public static string ShortCount(long value) => Math.Abs(value) switch
    {
        < 1_000 => value.ToString(Invariant),
        < 1_000_000 => string.Create(Invariant, $"{value / 1e3:0.#}K"),
        < 1_000_000_000 => string.Create(Invariant, $"{value / 1e6:0.##}M"),
        _ => string.Create(Invariant, $"{value / 1e9:0.##}B"),
    };

    /// <summary>Cuts <paramref name="text"/> to <paramref name="width"/> columns with a trailing <c>…</c>, or pads it.</summary>
    public static string Fit(string text, int width)
    {
        if (width <= 0) return "";
        if (text.Length <= width) return text.PadRight(width);
        return width == 1 ? "…" : text[..(width - 1)] + "…";
    }

    /// <summary>Splits <paramref name="line"/> into pieces of at most <paramref name="width"/> columns, breaking after spaces where it can.</summary>
    public static IEnumerable<string> Wrap(string line, int width)
    {
        if (line.Length <= width) { yield return line; yield break; }
        int start = 0;
        while (start < line.Length)
        {
            int end = Math.Min(line.Length, start + width);
            if (end < line.Length)
            {
                int space = line.LastIndexOf(' ', end - 1, end - start);
                if (space > start) end = space + 1;
            }
            yield return line[start..end].TrimEnd();
            start = end;
        }
    }
}
