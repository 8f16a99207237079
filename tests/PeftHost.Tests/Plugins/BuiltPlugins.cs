using Xunit;

namespace PeftHost.Tests.Plugins;

/// <summary>
/// The plugin tests share one build of the static fixture plugins and run one at a time (builds
/// and reload timings do not want company on a 2-core machine).
/// </summary>
[CollectionDefinition(Name)]
public sealed class PluginTestCollection : ICollectionFixture<BuiltPlugins>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Plugins";
}

/// <summary>
/// Builds every fixture plugin once, in one <c>dotnet build</c> of Fixtures/plugins/AllFixtures.slnx,
/// into <see cref="Root"/>, then breaks the ones meant to be broken:
/// <list type="bullet">
/// <item>ChannelScale — a working method plugin ("channel_scale")</item>
/// <item>InjectThrows — loads, but its Inject throws</item>
/// <item>StaticCtorThrows — its method's static constructor throws</item>
/// <item>MissingDependency — derives from a class in MissingDependencyHelper.dll, deleted here</item>
/// <item>FutureSdk — built against a copy of the SDK versioned 2.0.0</item>
/// <item>Corrupt — Corrupt.dll is garbage (written here)</item>
/// <item>NoDll — a deps.json without its dll (written here)</item>
/// </list>
/// </summary>
public sealed class BuiltPlugins : IDisposable
{
    public BuiltPlugins()
    {
        Workspace = FixturePluginBuilder.NewTempFolder("plugins");
        string sources = Path.Combine(Workspace, "src");
        Root = Path.Combine(Workspace, "plugins");
        FixturePluginBuilder.CopySources(sources);
        FixturePluginBuilder.CopySdkSources(Path.Combine(sources, "SdkCopy", "src"));
        BuildTime = FixturePluginBuilder.Build(Path.Combine(sources, "AllFixtures.slnx"), Root);

        File.Delete(Path.Combine(Root, "MissingDependency", "MissingDependencyHelper.dll"));
        string deps = File.ReadAllText(Path.Combine(Root, "ChannelScale", "ChannelScale.deps.json"));
        Directory.CreateDirectory(Path.Combine(Root, "Corrupt"));
        File.WriteAllBytes(Path.Combine(Root, "Corrupt", "Corrupt.dll"), "MZ this is not a real assembly"u8.ToArray());
        File.WriteAllText(Path.Combine(Root, "Corrupt", "Corrupt.deps.json"), deps.Replace("ChannelScale", "Corrupt"));
        Directory.CreateDirectory(Path.Combine(Root, "NoDll"));
        File.WriteAllText(Path.Combine(Root, "NoDll", "NoDll.deps.json"), deps.Replace("ChannelScale", "NoDll"));
    }

    /// <summary>The temp folder holding sources and outputs.</summary>
    public string Workspace { get; }

    /// <summary>The plugins root: one folder per fixture plugin.</summary>
    public string Root { get; }

    /// <summary>The working ChannelScale plugin's own folder (usable as a root by itself).</summary>
    public string ChannelScaleFolder => Path.Combine(Root, "ChannelScale");

    /// <summary>How long the one build took.</summary>
    public TimeSpan BuildTime { get; }

    public void Dispose()
    {
        try { Directory.Delete(Workspace, recursive: true); }
        catch (IOException) { } // a still-running watcher or a slow disk must not fail the run
    }
}
