using System.Globalization;
using System.Text;

namespace PeftHost.Core.Recipes.Api;

/// <summary>Lays out rows of cells as an aligned text table: numbers right-aligned, text left-aligned, a rule under the header.</summary>
public static class TableFormatter
{
    /// <summary>Formats <paramref name="rows"/> under <paramref name="columns"/>; <paramref name="title"/> goes first when given.</summary>
    public static string Format(IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<Cell>> rows, string? title = null)
    {
        var widths = columns.Select(c => c.Length).ToArray();
        foreach (var row in rows)
            for (int i = 0; i < columns.Count; i++) widths[i] = Math.Max(widths[i], row[i].Text.Length);
        var sb = new StringBuilder();
        if (!string.IsNullOrEmpty(title)) sb.Append(title).Append('\n');
        sb.Append(string.Join("  ", columns.Select((c, i) => c.PadRight(widths[i]))).TrimEnd()).Append('\n');
        sb.Append(string.Join("  ", widths.Select(w => new string('-', w)))).Append('\n');
        foreach (var row in rows)
        {
            var cells = row.Select((cell, i) => cell.IsNumber ? cell.Text.PadLeft(widths[i]) : cell.Text.PadRight(widths[i]));
            sb.Append(string.Join("  ", cells).TrimEnd()).Append('\n');
        }
        return sb.ToString().TrimEnd('\n');
    }

    /// <summary>A number as a table shows it: integers whole, others with up to 6 significant digits.</summary>
    public static string Number(double value) =>
        double.IsInteger(value) && Math.Abs(value) < 1e15 ? value.ToString("0", CultureInfo.InvariantCulture)
        : value.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>One cell: its text and whether it is a number (right-aligned).</summary>
    /// <param name="Text">What is shown.</param>
    /// <param name="IsNumber">Right-align it.</param>
    public readonly record struct Cell(string Text, bool IsNumber);
}
