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

    /// <summary>The most a recipe's folder may hold to be shipped (a recipe in a home folder would ship all of it).</summary>
    public const int MaxRecipeFolderFiles = 1000;

    /// <summary>Hashes the inputs of a recipe at <paramref name="recipe"/> run in <paramref name="workspace"/> writing into <paramref name="output"/>.</summary>
    /// <exception cref="ArgumentException">The recipe's folder holds too much to ship.</exception>
    public InputManifest(string recipe, string workspace, string output)
    {
        string recipeFolder = Path.GetDirectoryName(Path.GetFullPath(recipe))!;
        int count = CountFiles(recipeFolder, output);
        if (count > MaxRecipeFolderFiles)
            throw new ArgumentException($"{recipeFolder} holds more than {MaxRecipeFolderFiles} files; a shipped sweep sends its recipe's whole folder to the silos. "
                + "Put the recipe (and what it imports) in a folder of its own, or use --shared-storage");
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

    private static int CountFiles(string folder, string skip)
    {
        string skipped = Path.GetFullPath(skip).TrimEnd('/'), runs = Path.Combine(Path.GetFullPath(folder), "runs");
        int count = 0;
        var pending = new Stack<string>([folder]);
        while (pending.Count > 0 && count <= MaxRecipeFolderFiles)
            foreach (var entry in new DirectoryInfo(pending.Pop()).EnumerateFileSystemInfos())
            {
                if (entry.Name.StartsWith('.') || entry.FullName == skipped || entry.FullName == runs || entry.LinkTarget is not null) continue;
                if (entry is DirectoryInfo) pending.Push(entry.FullName);
                else count++;
            }
        return count;
    }

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
