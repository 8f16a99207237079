using System.Globalization;
using System.Text;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>
/// A line chart drawn with Braille dots (2×4 per character cell), as plain text lines: y-axis labels
/// on the left, the line connecting the points. Rendering-independent: any text surface can show
/// it, and tests can read it.
/// </summary>
public static class LineChart
{
    /// <summary>Columns used by the y-axis labels and the axis line.</summary>
    public const int AxisWidth = 8;

    /// <summary>
    /// Renders <paramref name="points"/> (x ascending) into <paramref name="height"/> lines of
    /// <paramref name="width"/> columns. The x range is [<paramref name="xMin"/>, <paramref name="xMax"/>]
    /// (so two charts of one run line up); the y range is the points' own, padded a little.
    /// With no points every line is blank but for the axis.
    /// </summary>
    public static IReadOnlyList<string> Render(IReadOnlyList<(double X, double Y)> points, double xMin, double xMax, int width, int height) =>
        Overlay([points], xMin, xMax, width, height, marked: false);

    /// <summary>
    /// Several curves in one chart on a shared y range (the compare view): each drawn as
    /// <see cref="Render"/> draws one, and when <paramref name="marked"/> the cell of each curve's last
    /// point shows its number (1, 2, …), so the curves can be told apart without colour.
    /// </summary>
    public static IReadOnlyList<string> Overlay(IReadOnlyList<IReadOnlyList<(double X, double Y)>> series, double xMin, double xMax, int width, int height, bool marked = true)
    {
        height = Math.Max(1, height);
        int plotWidth = Math.Max(1, width - AxisWidth);
        var curves = series.Select(points => points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList()).ToList();
        var lines = new List<string>(height);
        if (curves.All(c => c.Count == 0))
        {
            for (int row = 0; row < height; row++) lines.Add(Label(null, row, height) + new string(' ', plotWidth));
            return lines;
        }
        double yMin = curves.Where(c => c.Count > 0).Min(c => c.Min(p => p.Y)), yMax = curves.Where(c => c.Count > 0).Max(c => c.Max(p => p.Y));
        if (yMax - yMin < 1e-12) { yMin -= 0.5; yMax += 0.5; }
        if (xMax <= xMin) xMax = xMin + 1;

        int pw = plotWidth * 2, ph = height * 4;
        var dots = new bool[pw, ph];
        (int X, int Y) Pixel((double X, double Y) p) => (
            (int)Math.Round(Math.Clamp((p.X - xMin) / (xMax - xMin), 0, 1) * (pw - 1)),
            (int)Math.Round((yMax - p.Y) / (yMax - yMin) * (ph - 1)));
        var markers = new Dictionary<(int Col, int Row), char>();
        for (int i = 0; i < curves.Count; i++)
        {
            var finite = curves[i];
            if (finite.Count == 0) continue;
            var previous = Pixel(finite[0]);
            dots[previous.X, previous.Y] = true;
            foreach (var point in finite.Skip(1))
            {
                var next = Pixel(point);
                Line(dots, previous, next);
                previous = next;
            }
            if (marked) markers[(previous.X / 2, previous.Y / 4)] = i < 9 ? (char)('1' + i) : '+';
        }

        for (int row = 0; row < height; row++)
        {
            var sb = new StringBuilder(Label((yMin, yMax), row, height));
            for (int col = 0; col < plotWidth; col++)
            {
                if (markers.TryGetValue((col, row), out char marker))
                {
                    sb.Append(marker);
                    continue;
                }
                int bits = 0;
                for (int dy = 0; dy < 4; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        if (dots[col * 2 + dx, row * 4 + dy]) bits |= Bit(dx, dy);
                sb.Append(bits == 0 ? ' ' : (char)(0x2800 + bits));
            }
            lines.Add(sb.ToString());
        }
        return lines;
    }

    /// <summary>The Braille dot bit for column <paramref name="dx"/> (0–1) and row <paramref name="dy"/> (0–3) of a cell.</summary>
    public static int Bit(int dx, int dy) => (dx, dy) switch
    {
        (0, 0) => 0x01, (0, 1) => 0x02, (0, 2) => 0x04, (0, 3) => 0x40,
        (1, 0) => 0x08, (1, 1) => 0x10, (1, 2) => 0x20, _ => 0x80,
    };

    private static string Label((double Min, double Max)? range, int row, int height)
    {
        string text = "";
        if (range is { } r)
        {
            if (row == 0) text = Short(r.Max);
            else if (row == height - 1) text = Short(r.Min);
        }
        return text.PadLeft(AxisWidth - 1)[..(AxisWidth - 1)] + (row == 0 || row == height - 1 ? '┤' : '│');
    }

    private static string Short(double v)
    {
        double a = Math.Abs(v);
        string s = a >= 1000 || (a > 0 && a < 0.01) ? v.ToString("0.0e+0", CultureInfo.InvariantCulture)
            : a >= 100 ? v.ToString("0", CultureInfo.InvariantCulture)
            : a >= 10 ? v.ToString("0.0", CultureInfo.InvariantCulture)
            : v.ToString("0.00", CultureInfo.InvariantCulture);
        return s.Length > AxisWidth - 1 ? s[..(AxisWidth - 1)] : s;
    }

    private static void Line(bool[,] dots, (int X, int Y) a, (int X, int Y) b)
    {
        int dx = Math.Abs(b.X - a.X), sx = a.X < b.X ? 1 : -1;
        int dy = -Math.Abs(b.Y - a.Y), sy = a.Y < b.Y ? 1 : -1;
        int err = dx + dy;
        int x = a.X, y = a.Y;
        while (true)
        {
            dots[x, y] = true;
            if (x == b.X && y == b.Y) return;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x += sx; }
            if (e2 <= dx) { err += dx; y += sy; }
        }
    }
}
