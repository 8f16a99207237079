namespace PeftHost.Core.Recipes.Sandbox;

/// <summary>
/// Decides which files a recipe may touch and where its relative paths point.
/// Reading is allowed under the recipe's folder, the workspace's <c>models/</c> and <c>data/</c>,
/// the output folder and any extra roots the host adds; writing only under the output folder.
/// Every path is checked as the file system resolves it (symbolic links followed component by
/// component), so neither <c>..</c> nor a link can reach outside those roots.
/// </summary>
/// <remarks>
/// Relative paths: <c>./x</c> and <c>../x</c> are relative to the recipe's folder (like imports);
/// other relative paths are read from the output folder when they exist there (what this run
/// saved) and otherwise from the workspace (<c>models/…</c>, <c>data/…</c>); every relative path
/// written is relative to the output folder.
/// </remarks>
public sealed class PathPolicy
{
    private readonly List<(string Real, string Label)> _readRoots = [];
    private readonly string _outputReal;

    /// <summary>Creates the policy over real (link-resolved) roots.</summary>
    /// <param name="recipeFolder">The folder holding the recipe file.</param>
    /// <param name="workspace">The folder whose <c>models/</c> and <c>data/</c> recipes may read.</param>
    /// <param name="outputFolder">The run's output folder (read and write).</param>
    /// <param name="extraReadRoots">More folders recipes may read.</param>
    public PathPolicy(string recipeFolder, string workspace, string outputFolder, IEnumerable<string>? extraReadRoots = null)
    {
        RecipeFolder = Path.GetFullPath(recipeFolder);
        Workspace = Path.GetFullPath(workspace);
        OutputFolder = Path.GetFullPath(outputFolder);
        _outputReal = RealPath.Resolve(OutputFolder);
        _readRoots.Add((RealPath.Resolve(RecipeFolder), "the recipe's folder"));
        _readRoots.Add((RealPath.Resolve(Path.Combine(Workspace, "models")), "models/"));
        _readRoots.Add((RealPath.Resolve(Path.Combine(Workspace, "data")), "data/"));
        _readRoots.Add((_outputReal, "the output folder"));
        foreach (var extra in extraReadRoots ?? [])
            _readRoots.Add((RealPath.Resolve(Path.GetFullPath(extra)), extra));
    }

    /// <summary>The recipe's folder.</summary>
    public string RecipeFolder { get; }

    /// <summary>The workspace (holding <c>models/</c> and <c>data/</c>).</summary>
    public string Workspace { get; }

    /// <summary>The output folder.</summary>
    public string OutputFolder { get; }

    /// <summary>
    /// The real path a recipe's <paramref name="userPath"/> names, after checking it may be used for
    /// <paramref name="access"/>. <paramref name="caller"/> (e.g. "loadModel") starts the error message.
    /// </summary>
    /// <exception cref="SandboxViolationException">The path leaves the allowed folders.</exception>
    public string Resolve(string userPath, PathAccess access, string caller)
    {
        if (string.IsNullOrWhiteSpace(userPath)) throw new ArgumentException($"{caller}: the path is empty");
        if (userPath.Contains('\0')) throw new SandboxViolationException($"{caller}: the path contains a NUL character");
        string full = Absolute(userPath, access);
        IO.PathLimits.Check(full);
        string real = RealPath.Resolve(full);
        var roots = access == PathAccess.Write ? [(_outputReal, "the output folder")] : _readRoots;
        if (roots.Any(r => RealPath.IsUnder(real, r.Real)))
        {
            if (access == PathAccess.Read) IO.RegularFiles.Require(real);
            return real;
        }

        string allowed = string.Join(", ", roots.Select(r => r.Label));
        string verb = access == PathAccess.Write ? "write" : "read";
        string lexical = Path.GetFullPath(full);
        if (roots.Any(r => RealPath.IsUnder(lexical, r.Real)))
            throw new SandboxViolationException($"{caller}: '{userPath}' goes through a symbolic link to {real}, outside the folders a recipe may {verb} ({allowed})");
        string how = userPath.Split('/', '\\').Contains("..") ? "climbs out of" : "is outside";
        throw new SandboxViolationException($"{caller}: '{userPath}' {how} the folders a recipe may {verb} ({allowed})");
    }

    /// <summary>
    /// Like <see cref="Resolve"/> for a folder whose files a loader will open: every entry in it
    /// (two levels deep) must also resolve inside the allowed roots, so a link planted in a model
    /// or adapter folder cannot lead a loader outside.
    /// </summary>
    public string ResolveFolder(string userPath, string caller)
    {
        string real = Resolve(userPath, PathAccess.Read, caller);
        if (!Directory.Exists(real)) return real; // the loader reports a missing folder in its own words
        foreach (var entry in Entries(real, depth: 2))
        {
            string entryReal = RealPath.Resolve(entry);
            if (!_readRoots.Any(r => RealPath.IsUnder(entryReal, r.Real)))
                throw new SandboxViolationException($"{caller}: '{Path.GetRelativePath(real, entry)}' in '{userPath}' is a symbolic link to {entryReal}, outside the folders a recipe may read");
            IO.RegularFiles.Require(entryReal);
        }
        return real;
    }

    private string Absolute(string userPath, PathAccess access)
    {
        if (Path.IsPathFullyQualified(userPath)) return userPath;
        if (access == PathAccess.Write) return Path.Combine(OutputFolder, userPath);
        if (userPath.StartsWith("./", StringComparison.Ordinal) || userPath.StartsWith("../", StringComparison.Ordinal) || userPath is "." or "..")
            return Path.Combine(RecipeFolder, userPath);
        string inOutput = Path.Combine(OutputFolder, userPath);
        return File.Exists(inOutput) || Directory.Exists(inOutput) ? inOutput : Path.Combine(Workspace, userPath);
    }

    private static IEnumerable<string> Entries(string folder, int depth)
    {
        IEnumerable<string> children;
        try { children = Directory.EnumerateFileSystemEntries(folder).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { yield break; }
        foreach (var child in children)
        {
            yield return child;
            if (depth > 1 && Directory.Exists(child) && new DirectoryInfo(child).LinkTarget is null)
                foreach (var grandchild in Entries(child, depth - 1)) yield return grandchild;
        }
    }
}
