namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>
/// The data files a recipe can train on: every file under the workspace's <c>data/</c> folder in a
/// format <c>loadDataset</c> reads (JSON Lines, possibly gzipped, CSV, TSV, Parquet, plain text),
/// as workspace-relative paths (<c>data/moby-dick.txt</c>), which is how recipes name them.
/// </summary>
/// <param name="workspace">The folder recipes resolve <c>data/…</c> against.</param>
public sealed class DatasetCatalog(string workspace)
{
    private static readonly string[] Extensions = [".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".txt"];

    /// <summary>The workspace the paths are relative to.</summary>
    public string Workspace { get; } = Path.GetFullPath(workspace);

    /// <summary>The data files found now, sorted; licences and READMEs are not data.</summary>
    public IReadOnlyList<string> List()
    {
        string data = Path.Combine(Workspace, "data");
        if (!Directory.Exists(data)) return [];
        try
        {
            return Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories)
                .Where(IsData)
                .Select(f => Path.GetRelativePath(Workspace, f).Replace(Path.DirectorySeparatorChar, '/'))
                .Order(StringComparer.Ordinal)
                .ToList();
        }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>The full path of <paramref name="path"/> as a recipe gives it (relative to the workspace, or absolute).</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.Combine(Workspace, path.Trim()));

    private static bool IsData(string file)
    {
        string name = Path.GetFileName(file).ToLowerInvariant();
        if (name.StartsWith("readme", StringComparison.Ordinal) || name.StartsWith("license", StringComparison.Ordinal)) return false;
        if (name.EndsWith(".gz", StringComparison.Ordinal)) name = name[..^3];
        return Extensions.Contains(Path.GetExtension(name));
    }
}
