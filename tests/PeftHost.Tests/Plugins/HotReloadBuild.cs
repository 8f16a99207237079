namespace PeftHost.Tests.Plugins;

/// <summary>
/// The ChannelScale plugin built from a private copy of its source, so that a test can rewrite
/// the source and rebuild into the same folder while a host watches it. Also keeps a pristine
/// copy of the first build for tests that tamper with files directly.
/// </summary>
public sealed class HotReloadBuild : IDisposable
{
    private readonly string _originalProject;
    private readonly string _originalCode;

    public HotReloadBuild()
    {
        Workspace = FixturePluginBuilder.NewTempFolder("reload");
        Root = Path.Combine(Workspace, "plugins");
        string sources = Path.Combine(Workspace, "src");
        Directory.CreateDirectory(sources);
        File.Copy(Path.Combine(FixturePluginBuilder.Sources, "PluginFixture.props"), Path.Combine(sources, "PluginFixture.props"));
        FixturePluginBuilder.CopyTree(Path.Combine(FixturePluginBuilder.Sources, "ChannelScale"), Path.Combine(sources, "ChannelScale"), skip: ["bin", "obj"]);
        Project = Path.Combine(sources, "ChannelScale", "ChannelScale.csproj");
        _originalProject = File.ReadAllText(Project);
        _originalCode = File.ReadAllText(Path.Combine(sources, "ChannelScale", "ChannelScaleMethod.cs"));
        FirstBuildTime = FixturePluginBuilder.Build(Project, Root);
        Pristine = Path.Combine(Workspace, "pristine", "ChannelScale");
        FixturePluginBuilder.CopyTree(PluginFolder, Pristine, skip: ["bin", "obj"]);
    }

    public string Workspace { get; }

    /// <summary>The plugins root the hot-reload test watches.</summary>
    public string Root { get; }

    /// <summary>The plugin's folder under <see cref="Root"/>.</summary>
    public string PluginFolder => Path.Combine(Root, "ChannelScale");

    /// <summary>A copy of the first build's folder, never touched.</summary>
    public string Pristine { get; }

    public string Project { get; }

    public TimeSpan FirstBuildTime { get; }

    /// <summary>The environment variable a build made with <c>holdsLoad</c> reads: the path of its hold files.</summary>
    public const string HoldVariable = "PEFTHOST_TEST_HOLD_LOAD";

    /// <summary>
    /// Rewrites the plugin's version and output gain (from the original sources, so rebuilds can follow each
    /// other), optionally with a method constructor that throws, or one that holds the load (when
    /// <see cref="HoldVariable"/> names a path P, it creates P.entered and waits for P.release), then rebuilds into
    /// <paramref name="outRoot"/> (default: the watched <see cref="Root"/>).
    /// </summary>
    public TimeSpan Rebuild(string version, double gain, bool constructorThrows = false, bool holdsLoad = false, string? outRoot = null)
    {
        string code = Path.Combine(Path.GetDirectoryName(Project)!, "ChannelScaleMethod.cs");
        string source = _originalCode.Replace("public const double OutputGain = 1.0;", $"public const double OutputGain = {gain:0.0#};");
        if (constructorThrows)
            source = source.Replace("    public string Name => \"channel_scale\";",
                "    public ChannelScaleMethod() => throw new InvalidOperationException(\"constructor exploded\");\n\n    public string Name => \"channel_scale\";");
        if (holdsLoad)
            source = source.Replace("    public string Name => \"channel_scale\";", $$"""
                    public ChannelScaleMethod()
                    {
                        if (Environment.GetEnvironmentVariable("{{HoldVariable}}") is not { } hold) return;
                        File.WriteAllText(hold + ".entered", "");
                        while (!File.Exists(hold + ".release")) Thread.Sleep(10);
                    }

                    public string Name => "channel_scale";
                """);
        File.WriteAllText(code, source);
        File.WriteAllText(Project, _originalProject.Replace("<Version>1.0.0</Version>", $"<Version>{version}</Version>"));
        return FixturePluginBuilder.Build(Project, outRoot ?? Root);
    }

    /// <summary>A fresh copy of the first build as the only plugin of a new root.</summary>
    public string CopyPristineToNewRoot()
    {
        string root = Path.Combine(Workspace, "copy-" + Guid.NewGuid().ToString("N")[..8]);
        FixturePluginBuilder.CopyTree(Pristine, Path.Combine(root, "ChannelScale"));
        return root;
    }

    public void Dispose()
    {
        try { Directory.Delete(Workspace, recursive: true); }
        catch (IOException) { }
    }
}
