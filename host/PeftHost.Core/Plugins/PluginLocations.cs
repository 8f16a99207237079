namespace PeftHost.Core.Plugins;

/// <summary>
/// Where plugins are looked for: the built-in <c>artifacts/plugins/</c> of the repository,
/// folders given with <c>--plugins</c>, and the <c>PEFTHOST_PLUGINS</c> environment variable.
/// </summary>
public static class PluginLocations
{
    /// <summary>The environment variable holding extra plugin roots, separated by <see cref="Path.PathSeparator"/>.</summary>
    public const string EnvironmentVariable = "PEFTHOST_PLUGINS";

    /// <summary>The file that marks the repository root.</summary>
    public const string SolutionFileName = "PeftHost.sln";

    /// <summary>
    /// The repository root: the nearest folder at or above <paramref name="start"/> (default
    /// <see cref="AppContext.BaseDirectory"/>) holding <c>PeftHost.sln</c>; null when there is none
    /// (an installed copy of the tool).
    /// </summary>
    public static string? FindRepositoryRoot(string? start = null)
    {
        for (var dir = new DirectoryInfo(start ?? AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, SolutionFileName))) return dir.FullName;
        }
        return null;
    }

    /// <summary>The folder beside the executable that holds the built-in plugins of an installed tool (<c>dotnet tool install peft</c>).</summary>
    public const string InstalledFolderName = "plugins";

    /// <summary>
    /// The built-in plugins root: <c>artifacts/plugins/</c> under the repository root when running from a build,
    /// else the <c>plugins/</c> folder packed beside the executable when running as an installed tool;
    /// null when neither exists.
    /// </summary>
    public static string? BuiltInRoot(string? start = null)
    {
        var from = start ?? AppContext.BaseDirectory;
        if (FindRepositoryRoot(from) is string root) return Path.Combine(root, "artifacts", "plugins");
        var installed = Path.Combine(from, InstalledFolderName);
        return Directory.Exists(installed) ? installed : null;
    }

    /// <summary>The roots listed in <see cref="EnvironmentVariable"/> (empty entries skipped).</summary>
    public static IReadOnlyList<string> FromEnvironment(string? value = null)
    {
        value ??= Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(value)) return [];
        return value.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>
    /// The plugin folders under <paramref name="root"/>, in name order: each subfolder holding
    /// <c>&lt;Name&gt;.dll</c> or <c>&lt;Name&gt;.deps.json</c> named after it. A root that is
    /// itself such a folder (<c>--plugins artifacts/plugins/Lora</c>) is its one plugin.
    /// A folder with a deps.json but no dll is returned too, so that it fails with a reason.
    /// </summary>
    public static IReadOnlyList<PluginCandidate> Enumerate(string root)
    {
        var full = Path.GetFullPath(root);
        if (!Directory.Exists(full)) return [];
        var self = AsCandidate(full, full);
        if (self is not null) return [self];
        return Directory.EnumerateDirectories(full)
            .Order(StringComparer.Ordinal)
            .Select(d => AsCandidate(d, full))
            .OfType<PluginCandidate>()
            .ToArray();
    }

    private static PluginCandidate? AsCandidate(string folder, string root)
    {
        string name = Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar));
        var candidate = new PluginCandidate(name, folder, root);
        return File.Exists(candidate.AssemblyPath) || File.Exists(candidate.DepsPath) ? candidate : null;
    }
}
