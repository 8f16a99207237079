using PeftHost.Core.Recipes.Api;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes;

/// <summary>
/// A recipe's <c>table(rows, { title })</c>: the cells as the recipe output prints them, so a
/// dashboard can show the recipe's own results (accuracy, F1…) as a table, not only as log lines.
/// </summary>
/// <param name="Title">The table's title, or null.</param>
/// <param name="Columns">The column names, in order.</param>
/// <param name="Rows">One list of cells per row, one cell per column.</param>
public sealed record RecipeTableEvent(string? Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<TableFormatter.Cell>> Rows) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source { get; init; } = "recipe";
}
