using PeftHost.Tests.Plugins;

namespace PeftHost.Tests.Reliability.Plugins;

/// <summary>
/// Builds, in one <c>dotnet build</c>, the plugins the reliability tests need: the working
/// ChannelScale, MissingDependency and StaticCtorThrows from Fixtures/plugins (reused, not copied
/// into this suite), and HangsInInject and Unstable (nan_scale, second_call_throws) from
/// Fixtures/reliability/plugins. MissingDependencyHelper.dll is then deleted, as in the plugin tests.
/// </summary>
public sealed class ReliabilityPlugins : IDisposable
{
    private static readonly string[] Reused = ["ChannelScale", "MissingDependencyHelper", "MissingDependency", "StaticCtorThrows"];
    private static readonly string[] Own = ["HangsInInject", "Unstable"];

    public ReliabilityPlugins()
    {
        Workspace = FixturePluginBuilder.NewTempFolder("reliability");
        string sources = Path.Combine(Workspace, "src");
        Root = Path.Combine(Workspace, "plugins");
        Directory.CreateDirectory(sources);
        File.Copy(Path.Combine(FixturePluginBuilder.Sources, "PluginFixture.props"), Path.Combine(sources, "PluginFixture.props"));
        foreach (var name in Reused) FixturePluginBuilder.CopyTree(Path.Combine(FixturePluginBuilder.Sources, name), Path.Combine(sources, name), skip: ["bin", "obj"]);
        string own = Path.Combine(AppContext.BaseDirectory, "Fixtures", "reliability", "plugins");
        foreach (var name in Own) FixturePluginBuilder.CopyTree(Path.Combine(own, name), Path.Combine(sources, name), skip: ["bin", "obj"]);
        string solution = Path.Combine(sources, "Reliability.slnx");
        File.WriteAllText(solution, "<Solution>\n" + string.Concat(Reused.Concat(Own).Select(n => $"  <Project Path=\"{n}/{n}.csproj\" />\n")) + "</Solution>\n");
        BuildTime = FixturePluginBuilder.Build(solution, Root);
        File.Delete(Path.Combine(Root, "MissingDependency", "MissingDependencyHelper.dll"));
        if (Directory.Exists(Path.Combine(Root, "MissingDependencyHelper"))) Directory.Delete(Path.Combine(Root, "MissingDependencyHelper"), recursive: true); // a library, not a plugin
    }

    public string Workspace { get; }

    /// <summary>One folder per plugin.</summary>
    public string Root { get; }

    public TimeSpan BuildTime { get; }

    /// <summary>A plugin's own folder (usable as a root by itself).</summary>
    public string Folder(string plugin) => Path.Combine(Root, plugin);

    /// <summary>A fresh copy of <paramref name="plugin"/>'s build as the only plugin of a new root (for tests that rewrite its files).</summary>
    public string CopyToNewRoot(string plugin)
    {
        string root = Path.Combine(Workspace, "copy-" + Guid.NewGuid().ToString("N")[..8]);
        FixturePluginBuilder.CopyTree(Folder(plugin), Path.Combine(root, plugin), skip: ["bin", "obj"]);
        return root;
    }

    public void Dispose()
    {
        try { Directory.Delete(Workspace, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>The plugin reliability tests: one build of their plugins, run one at a time (timings and memory are measured).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReliabilityPluginCollection : ICollectionFixture<ReliabilityPlugins>
{
    public const string Name = "reliability: plugins";
}
