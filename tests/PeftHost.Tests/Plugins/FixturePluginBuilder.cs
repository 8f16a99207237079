using System.Diagnostics;
using PeftHost.Core.Plugins;
using PeftHost.Sdk;
using TorchSharp;

namespace PeftHost.Tests.Plugins;

/// <summary>
/// Builds the fixture plugin sources (Fixtures/plugins, copied next to the test assembly) with
/// <c>dotnet build</c> in a temp folder, the way a third party builds an out-of-tree plugin:
/// against the host's own PeftHost.Sdk.dll and TorchSharp version, passed as MSBuild properties.
/// </summary>
internal static class FixturePluginBuilder
{
    /// <summary>The fixture sources copied to the test output.</summary>
    public static string Sources => Path.Combine(AppContext.BaseDirectory, "Fixtures", "plugins");

    /// <summary>A new empty temp folder.</summary>
    public static string NewTempFolder(string prefix)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"pefthost-{prefix}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Copies the fixture sources (all of them, they are small) into <paramref name="target"/>.</summary>
    public static void CopySources(string target) => CopyTree(Sources, target);

    /// <summary>Copies the repository's SDK sources into <paramref name="target"/> (for the SDK-2.0 copy).</summary>
    public static void CopySdkSources(string target)
    {
        string root = PluginLocations.FindRepositoryRoot() ?? throw new InvalidOperationException("tests must run from inside the repository");
        CopyTree(Path.Combine(root, "host", "PeftHost.Sdk"), target, skip: ["bin", "obj"], pattern: "*.cs");
    }

    /// <summary>
    /// Runs <c>dotnet build</c> on <paramref name="projectOrSolution"/>, plugins going to
    /// <paramref name="pluginOutRoot"/>/&lt;Project&gt;/. Throws with the build log on failure.
    /// </summary>
    public static TimeSpan Build(string projectOrSolution, string pluginOutRoot) => Dotnet(Path.GetDirectoryName(projectOrSolution)!,
        "build", projectOrSolution, "-nologo", "-v:q", "-clp:ErrorsOnly",
        // No lingering MSBuild nodes after the test run.
        "-nodeReuse:false",
        $"-p:PeftSdkAssembly={typeof(IPeftMethod).Assembly.Location}",
        $"-p:TorchSharpVersion={TorchSharpVersion()}",
        $"-p:PluginOutRoot={pluginOutRoot.TrimEnd('/')}/");

    /// <summary>
    /// Runs the <c>dotnet</c> command line <paramref name="args"/> in <paramref name="workingDirectory"/>, as a user's
    /// shell would (none of the test host's MSBuild variables). Throws with its output when it fails or takes over 5 minutes.
    /// </summary>
    public static TimeSpan Dotnet(string workingDirectory, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        var start = new ProcessStartInfo(DotnetPath())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        // `dotnet test` leaves MSBuild variables in the test host's environment that would point
        // the child build at the wrong SDK pieces.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        string command = "dotnet " + string.Join(" ", args.Take(2));
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} took over 5 minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{command} failed ({process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return clock.Elapsed;
    }

    private static string TorchSharpVersion()
    {
        var v = typeof(torch).Assembly.GetName().Version!;
        return $"{v.Major}.{v.Minor}.{v.Build}";
    }

    private static string DotnetPath() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Copies the folder <paramref name="source"/> into <paramref name="target"/>, recursively, leaving out subfolders named in <paramref name="skip"/>.</summary>
    public static void CopyTree(string source, string target, string[]? skip = null, string pattern = "*")
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(source, pattern))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        foreach (var dir in Directory.EnumerateDirectories(source))
        {
            string name = Path.GetFileName(dir);
            if (skip?.Contains(name) == true) continue;
            CopyTree(dir, Path.Combine(target, name), skip, pattern);
        }
    }
}
