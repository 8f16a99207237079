namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// The names a recipe's outputs get when it names none: <c>plot.png</c>, then <c>plot-2.png</c>, <c>plot-3.png</c>…
/// numbered among the calls that take the default, so a call that names its own file uses up no number.
/// </summary>
internal sealed class DefaultNames
{
    private readonly Dictionary<string, int> _taken = new(StringComparer.Ordinal);

    /// <summary>The next default name for <paramref name="stem"/>, with <paramref name="extension"/> (".png") after the number.</summary>
    public string Next(string stem, string extension = "")
    {
        int n = _taken[stem] = _taken.GetValueOrDefault(stem) + 1;
        return n == 1 ? stem + extension : $"{stem}-{n}{extension}";
    }
}
