namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>A recipe file in the recipes folder.</summary>
/// <param name="Name">The file name (<c>lora.js</c>).</param>
/// <param name="Path">The full path.</param>
/// <param name="Summary">The first line of the recipe's leading comment, or empty.</param>
public sealed record RecipeEntry(string Name, string Path, string Summary);

/// <summary>The recipes in a folder (<c>recipes/</c> by default): the <c>.js</c> and <c>.mjs</c> files, sorted by name.</summary>
/// <param name="folder">The folder; a missing folder has no recipes.</param>
public sealed class RecipeCatalog(string folder)
{
    /// <summary>The folder searched.</summary>
    public string Folder { get; } = System.IO.Path.GetFullPath(folder);

    /// <summary>The recipes found now.</summary>
    public IReadOnlyList<RecipeEntry> List()
    {
        if (!Directory.Exists(Folder)) return [];
        return Directory.EnumerateFiles(Folder)
            .Where(f => f.EndsWith(".js", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".mjs", StringComparison.OrdinalIgnoreCase))
            .Where(f => !System.IO.Path.GetFileName(f).StartsWith('_')) // shared modules the recipes import
            .Order(StringComparer.Ordinal)
            .Select(f => new RecipeEntry(System.IO.Path.GetFileName(f), f, Summary(ReadSource(f))))
            .ToList();
    }

    /// <summary>The recipe's source text (empty when it cannot be read).</summary>
    public static string ReadSource(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    /// <summary>The first non-empty line of the leading <c>//</c> comment block.</summary>
    public static string Summary(string source)
    {
        foreach (var raw in source.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0) continue;
            if (!line.StartsWith("//", StringComparison.Ordinal)) return "";
            string text = line.TrimStart('/').Trim();
            if (text.Length > 0) return text;
        }
        return "";
    }
}
