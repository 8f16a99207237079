namespace PeftHost.Farm.Shipping;

/// <summary>
/// What a shipped job needs, on the submitter: the recipe's folder (the recipe and what it imports or reads beside
/// it; the sweep's output folder, <c>runs/</c> and hidden entries left out) as <c>recipe/…</c>, and the workspace's
/// <c>models/</c> and <c>data/</c> as <c>workspace/…</c> — the folders a recipe's sandbox lets it read. Uploading
/// stores each distinct content once in the farm's Redis (skipped when it is there already).
/// </summary>
public sealed class InputManifest
{
    private readonly Dictionary<string, string> _sources = new(StringComparer.Ordinal); // shipped path → local file

    /// <summary>The files, as jobs carry them.</summary>
    public List<ShippedFile> Files { get; } = [];

    /// <summary>Hashes the inputs of a recipe at <paramref name="recipe"/> run in <paramref name="workspace"/> writing into <paramref name="output"/>.</summary>
    public InputManifest(string recipe, string workspace, string output)
    {
        string recipeFolder = Path.GetDirectoryName(Path.GetFullPath(recipe))!;
        Add("recipe", recipeFolder, ShippedFile.Scan(recipeFolder, skip: output).Where(f => !f.Path.StartsWith("runs/", StringComparison.Ordinal)));
        foreach (string part in new[] { "models", "data" })
        {
            string folder = Path.Combine(workspace, part);
            Add($"workspace/{part}", folder, ShippedFile.Scan(folder, skip: output));
        }
    }

    /// <summary>Total bytes.</summary>
    public long Bytes => Files.Sum(f => f.Length);

    /// <summary>Stores every file's content in <paramref name="store"/>; returns how many blobs were uploaded (the others were there).</summary>
    public int Upload(BlobStore store) =>
        Files.DistinctBy(f => f.Sha256).Count(f => store.Put(f.Sha256, _sources[f.Path]));

    private void Add(string prefix, string folder, IEnumerable<ShippedFile> files)
    {
        foreach (var file in files)
        {
            var shipped = file with { Path = $"{prefix}/{file.Path}" };
            Files.Add(shipped);
            _sources[shipped.Path] = Path.Combine(folder, file.Path);
        }
    }
}
