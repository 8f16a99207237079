namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>The type of a recipe parameter, from its declared default.</summary>
public enum RecipeParameterKind
{
    /// <summary>A number (<c>8</c>, <c>3e-4</c>).</summary>
    Number,

    /// <summary><c>true</c> or <c>false</c>.</summary>
    Boolean,

    /// <summary>A string.</summary>
    String,

    /// <summary>An array literal; given as JSON (<c>["q_proj","v_proj"]</c>) or comma-separated.</summary>
    Array,

    /// <summary>An object literal; given as JSON.</summary>
    Object,

    /// <summary>A default that is not a literal (a computed value): shown as source, typed as text.</summary>
    Expression,
}

/// <summary>A parameter a recipe declares with <c>defineParams({ … })</c>.</summary>
/// <param name="Name">The key (<c>r</c>, <c>learningRate</c>).</param>
/// <param name="Kind">Its type, from the default.</param>
/// <param name="Default">The default as a <c>--set</c> value would spell it (<c>8</c>, <c>true</c>, <c>models/stories260k</c>, <c>["q_proj","v_proj"]</c>).</param>
/// <param name="Description">The comment on the parameter's line, if any.</param>
public sealed record RecipeParameter(string Name, RecipeParameterKind Kind, string Default, string? Description = null)
{
    /// <summary>
    /// True for a string parameter naming a data file: called <c>dataset</c>, <c>data</c> or <c>…Dataset</c>,
    /// or defaulting to a path in <c>data/</c>. The Recipes panel offers the dataset chooser for it.
    /// </summary>
    public bool IsDataset => Kind == RecipeParameterKind.String
        && (Name is "data" || Name.EndsWith("dataset", StringComparison.OrdinalIgnoreCase) || Default.StartsWith("data/", StringComparison.Ordinal));
}
