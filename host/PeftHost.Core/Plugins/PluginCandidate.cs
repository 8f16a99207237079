namespace PeftHost.Core.Plugins;

/// <summary>A folder that looks like a plugin: <c>&lt;Name&gt;/&lt;Name&gt;.dll</c> and its <c>&lt;Name&gt;.deps.json</c>.</summary>
/// <param name="Name">The folder name, which is the main assembly's name.</param>
/// <param name="Folder">The plugin folder's full path.</param>
/// <param name="Root">The plugins root it was found under.</param>
public sealed record PluginCandidate(string Name, string Folder, string Root)
{
    /// <summary>The main assembly's path.</summary>
    public string AssemblyPath => Path.Combine(Folder, Name + ".dll");

    /// <summary>The dependency manifest's path.</summary>
    public string DepsPath => Path.Combine(Folder, Name + ".deps.json");
}
