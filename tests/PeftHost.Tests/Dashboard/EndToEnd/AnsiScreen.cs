using System.Globalization;
using System.Text;

namespace PeftHost.Tests.Dashboard.EndToEnd;

/// <summary>One character cell of a captured screen.</summary>
internal readonly record struct ScreenCell(string Text, uint? Foreground, uint? Background, bool Bold, bool Faint, bool Underline, bool Reverse);

/// <summary>
/// A terminal screen rebuilt from <c>tmux capture-pane -e -p</c> output: the characters and their SGR
/// attributes (16/256/true colour, bold, faint, underline, reverse) per cell. Used to check what
/// the dashboard drew and to render screenshots.
/// </summary>
internal sealed class AnsiScreen
{
    private static readonly uint[] Palette16 =
    [
        0x000000, 0xcd3131, 0x0dbc79, 0xe5e510, 0x2472c8, 0xbc3fbc, 0x11a8cd, 0xe5e5e5,
        0x666666, 0xf14c4c, 0x23d18b, 0xf5f543, 0x3b8eea, 0xd670d6, 0x29b8db, 0xffffff,
    ];

    public AnsiScreen(int width, int height)
    {
        Width = width;
        Height = height;
        Cells = new ScreenCell[height, width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) Cells[y, x] = new ScreenCell(" ", null, null, false, false, false, false);
    }

    public int Width { get; }
    public int Height { get; }
    public ScreenCell[,] Cells { get; }

    /// <summary>True when any cell carries a colour (a NO_COLOR screen must have none).</summary>
    public bool HasColor => Enumerable.Range(0, Height).Any(y => Enumerable.Range(0, Width).Any(x => Cells[y, x].Foreground is not null || Cells[y, x].Background is not null));

    /// <summary>The text of row <paramref name="y"/>.</summary>
    public string Row(int y) => string.Concat(Enumerable.Range(0, Width).Select(x => Cells[y, x].Text));

    /// <summary>Parses captured lines (one per row; SGR sequences inline).</summary>
    public static AnsiScreen Parse(string capture, int width, int height)
    {
        var screen = new AnsiScreen(width, height);
        var lines = capture.Replace("\r", "").Split('\n');
        uint? fg = null, bg = null;
        bool bold = false, faint = false, underline = false, reverse = false;
        for (int y = 0; y < Math.Min(height, lines.Length); y++)
        {
            string line = lines[y];
            int x = 0;
            for (int i = 0; i < line.Length;)
            {
                if (line[i] == '\u001b' && i + 1 < line.Length && line[i + 1] == '[')
                {
                    int end = i + 2;
                    while (end < line.Length && !char.IsAsciiLetter(line[end])) end++;
                    if (end < line.Length && line[end] == 'm')
                        ApplySgr(line[(i + 2)..end], ref fg, ref bg, ref bold, ref faint, ref underline, ref reverse);
                    i = end + 1;
                    continue;
                }
                if (line[i] == '\u001b') { i++; continue; }
                int length = char.IsHighSurrogate(line[i]) && i + 1 < line.Length ? 2 : 1;
                string text = line.Substring(i, length);
                i += length;
                if (x < width) screen.Cells[y, x] = new ScreenCell(text, fg, bg, bold, faint, underline, reverse);
                x++;
            }
        }
        return screen;
    }

    private static void ApplySgr(string parameters, ref uint? fg, ref uint? bg, ref bool bold, ref bool faint, ref bool underline, ref bool reverse)
    {
        var codes = parameters.Length == 0 ? [0] : parameters.Split(';').Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : 0).ToArray();
        for (int i = 0; i < codes.Length; i++)
        {
            int c = codes[i];
            switch (c)
            {
                case 0: fg = bg = null; bold = faint = underline = reverse = false; break;
                case 1: bold = true; break;
                case 2: faint = true; break;
                case 4: underline = true; break;
                case 7: reverse = true; break;
                case 22: bold = faint = false; break;
                case 24: underline = false; break;
                case 27: reverse = false; break;
                case >= 30 and <= 37: fg = Palette16[c - 30]; break;
                case >= 90 and <= 97: fg = Palette16[c - 90 + 8]; break;
                case >= 40 and <= 47: bg = Palette16[c - 40]; break;
                case >= 100 and <= 107: bg = Palette16[c - 100 + 8]; break;
                case 39: fg = null; break;
                case 49: bg = null; break;
                case 38 or 48:
                    uint? color = null;
                    if (i + 1 < codes.Length && codes[i + 1] == 2 && i + 4 < codes.Length)
                    {
                        color = (uint)((codes[i + 2] << 16) | (codes[i + 3] << 8) | codes[i + 4]);
                        i += 4;
                    }
                    else if (i + 1 < codes.Length && codes[i + 1] == 5 && i + 2 < codes.Length)
                    {
                        color = Xterm256(codes[i + 2]);
                        i += 2;
                    }
                    if (c == 38) fg = color; else bg = color;
                    break;
            }
        }
    }

    private static uint Xterm256(int n)
    {
        if (n < 16) return Palette16[n];
        if (n >= 232) { uint g = (uint)(8 + (n - 232) * 10); return (g << 16) | (g << 8) | g; }
        n -= 16;
        uint Level(int v) => v == 0 ? 0u : (uint)(55 + v * 40);
        return (Level(n / 36) << 16) | (Level(n / 6 % 6) << 8) | Level(n % 6);
    }

    /// <summary>The plain text (what <c>capture-pane -p</c> without <c>-e</c> gives), trailing spaces kept.</summary>
    public string Text()
    {
        var sb = new StringBuilder();
        for (int y = 0; y < Height; y++) sb.Append(Row(y)).Append('\n');
        return sb.ToString();
    }
}
