using SkiaSharp;

namespace PeftHost.Tests.Dashboard.EndToEnd;

/// <summary>Renders a captured <see cref="AnsiScreen"/> to a PNG: a monospace grid with the screen's colours (a dark terminal for the defaults).</summary>
internal static class ScreenshotRenderer
{
    private const uint DefaultForeground = 0xd4d4d4;
    private const uint DefaultBackground = 0x1e1e1e;
    private const float FontSize = 15;

    public static void Render(AnsiScreen screen, string pngPath)
    {
        using var typeface = SKTypeface.FromFamilyName("DejaVu Sans Mono") ?? SKTypeface.Default;
        using var font = new SKFont(typeface, FontSize);
        float cellWidth = font.MeasureText("M");
        var metrics = font.Metrics;
        float cellHeight = MathF.Ceiling(metrics.Descent - metrics.Ascent + 2);
        int padding = 8;
        int width = (int)MathF.Ceiling(cellWidth * screen.Width) + 2 * padding;
        int height = (int)MathF.Ceiling(cellHeight * screen.Height) + 2 * padding;

        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        var canvas = surface.Canvas;
        canvas.Clear(Color(DefaultBackground));
        using var fill = new SKPaint { IsAntialias = false };
        using var ink = new SKPaint { IsAntialias = true };
        var fallbacks = new Dictionary<int, SKFont?>();

        for (int y = 0; y < screen.Height; y++)
        {
            for (int x = 0; x < screen.Width; x++)
            {
                var cell = screen.Cells[y, x];
                uint fg = cell.Foreground ?? DefaultForeground, bg = cell.Background ?? DefaultBackground;
                if (cell.Reverse) (fg, bg) = (bg, fg);
                float left = padding + x * cellWidth, top = padding + y * cellHeight;
                if (bg != DefaultBackground)
                {
                    fill.Color = Color(bg);
                    canvas.DrawRect(left, top, cellWidth + 0.5f, cellHeight + 0.5f, fill);
                }
                if (cell.Text == " ") continue;
                ink.Color = cell.Faint ? Color(fg).WithAlpha(150) : Color(fg);
                int codepoint = char.ConvertToUtf32(cell.Text, 0);
                if (BoxArms(codepoint) is { } arms)
                {
                    DrawBox(canvas, arms, left, top, cellWidth, cellHeight, ink);
                    continue;
                }
                if (codepoint is >= 0x2800 and <= 0x28FF)
                {
                    DrawBraille(canvas, codepoint - 0x2800, left, top, cellWidth, cellHeight, ink);
                    continue;
                }
                var drawFont = font.ContainsGlyph(codepoint) ? font : Fallback(codepoint, fallbacks) ?? font;
                float baseline = top - metrics.Ascent + 1;
                canvas.DrawText(cell.Text, left, baseline, drawFont, ink);
                if (cell.Bold) canvas.DrawText(cell.Text, left + 0.6f, baseline, drawFont, ink);
                if (cell.Underline) canvas.DrawLine(left, top + cellHeight - 2, left + cellWidth, top + cellHeight - 2, ink);
            }
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(pngPath))!);
        using var file = File.Create(pngPath);
        data.SaveTo(file);
        foreach (var f in fallbacks.Values) f?.Dispose();
    }

    /// <summary>Which arms (up, down, left, right) a box-drawing character has; null for other characters.</summary>
    private static (bool Up, bool Down, bool Left, bool Right)? BoxArms(int c) => c switch
    {
        '─' or '═' => (false, false, true, true),
        '│' or '║' => (true, true, false, false),
        '╭' or '┌' => (false, true, false, true),
        '╮' or '┐' => (false, true, true, false),
        '╰' or '└' => (true, false, false, true),
        '╯' or '┘' => (true, false, true, false),
        '├' => (true, true, false, true),
        '┤' => (true, true, true, false),
        '┬' => (false, true, true, true),
        '┴' => (true, false, true, true),
        '┼' => (true, true, true, true),
        _ => null,
    };

    /// <summary>Draws a box-drawing character as lines from the cell's centre to its edges, so frames join across rows.</summary>
    private static void DrawBox(SKCanvas canvas, (bool Up, bool Down, bool Left, bool Right) arms, float left, float top, float width, float height, SKPaint ink)
    {
        using var pen = new SKPaint { Color = ink.Color, StrokeWidth = 1.2f, IsAntialias = false, Style = SKPaintStyle.Stroke };
        float cx = MathF.Round(left + width / 2) + 0.5f, cy = MathF.Round(top + height / 2) + 0.5f;
        if (arms.Up) canvas.DrawLine(cx, top, cx, cy, pen);
        if (arms.Down) canvas.DrawLine(cx, cy, cx, top + height + 0.5f, pen);
        if (arms.Left) canvas.DrawLine(left, cy, cx, cy, pen);
        if (arms.Right) canvas.DrawLine(cx, cy, left + width + 0.5f, cy, pen);
    }

    /// <summary>Draws a Braille pattern's dots (2 columns × 4 rows; bits 0–2 and 6 left, 3–5 and 7 right).</summary>
    private static void DrawBraille(SKCanvas canvas, int bits, float left, float top, float width, float height, SKPaint ink)
    {
        int[] leftBits = [0x01, 0x02, 0x04, 0x40], rightBits = [0x08, 0x10, 0x20, 0x80];
        float radius = MathF.Max(1f, width / 7);
        for (int row = 0; row < 4; row++)
        {
            float y = top + height * (row + 0.5f) / 4;
            if ((bits & leftBits[row]) != 0) canvas.DrawCircle(left + width * 0.3f, y, radius, ink);
            if ((bits & rightBits[row]) != 0) canvas.DrawCircle(left + width * 0.75f, y, radius, ink);
        }
    }

    private static SKFont? Fallback(int codepoint, Dictionary<int, SKFont?> cache)
    {
        if (cache.TryGetValue(codepoint, out var cached)) return cached;
        var typeface = SKFontManager.Default.MatchCharacter(codepoint);
        var font = typeface is null ? null : new SKFont(typeface, FontSize);
        cache[codepoint] = font;
        return font;
    }

    private static SKColor Color(uint rgb) => new((byte)(rgb >> 16), (byte)(rgb >> 8), (byte)rgb);
}
