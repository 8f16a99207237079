using System.Text.RegularExpressions;
using PeftHost.Bench;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Cli;

/// <summary>
/// <c>peft</c> as a .NET tool: <c>dotnet pack</c> of the host makes the tool package with the built-in plugins,
/// <c>dotnet tool install</c> puts a <c>peft</c> in a tool path, and that <c>peft</c>, outside any repository,
/// finds its plugins and runs the quickstart from a folder that has the model and the data.
/// </summary>
public sealed class ToolPackageTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromMinutes(10);

    [Fact]
    public void The_packed_tool_installs_and_runs_the_quickstart_outside_the_repository()
    {
        using var dir = new TempDir();
        string feed = dir["feed"], tools = dir["tools"], work = dir["work"];

        // The host is already built for these tests; packing must not rebuild what other tests are running.
        var pack = Dotnet(TestPaths.RepoRoot, "pack", Path.Combine("host", "PeftHost", "PeftHost.csproj"), "-c", TestPaths.Configuration, "--no-build", "-o", feed, "-nologo");
        Assert.True(pack.ExitCode == 0, pack.Stdout + pack.Stderr);
        string package = Assert.Single(Directory.GetFiles(feed, "peft.*.nupkg"));
        string version = Regex.Match(Path.GetFileName(package), @"^peft\.(.+)\.nupkg$").Groups[1].Value;

        var install = Dotnet(dir.Path, "tool", "install", "peft", "--tool-path", tools, "--add-source", feed, "--version", version);
        Assert.True(install.ExitCode == 0, install.Stdout + install.Stderr);
        string peft = Path.Combine(tools, "peft");

        // A user's folder: the quickstart, its data and its model, and no PeftHost.sln anywhere above it.
        CopyTree(TestPaths.Stories260k, Path.Combine(work, "models", "stories260k"));
        CopyTree(Path.Combine(TestPaths.RepoRoot, "data", "spamassassin"), Path.Combine(work, "data", "spamassassin"));
        CopyTree(Path.Combine(TestPaths.RepoRoot, "data"), Path.Combine(work, "data"), topLevelFilesOnly: true);
        Directory.CreateDirectory(Path.Combine(work, "recipes"));
        foreach (var recipe in new[] { "quickstart.js", "_spamassassin.js" })
            File.Copy(Path.Combine(TestPaths.RepoRoot, "recipes", recipe), Path.Combine(work, "recipes", recipe));

        var versionRun = CommandRunner.Run(peft, ["--version"], work, Slow);
        Assert.True(versionRun.ExitCode == 0, versionRun.Stderr);
        Assert.StartsWith(version, versionRun.Stdout.Trim());

        var plugins = CommandRunner.Run(peft, ["plugins"], work, Slow);
        Assert.True(plugins.ExitCode == 0, plugins.Stderr);
        foreach (var method in new[] { "lora", "adalora", "ia3", "prefix_tuning", "prompt_tuning" })
            Assert.Contains(method, plugins.Stdout);

        var run = CommandRunner.Run(peft, ["run", "recipes/quickstart.js", "--out", "out",
            "--set", "steps=4", "--set", "batchSize=4", "--set", "examples=16", "--set", "testExamples=8"], work, Slow);
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Contains("accuracy", run.Stdout);
        Assert.True(File.Exists(Path.Combine(work, "out", "run.json")), "the run's record is written in the user's folder");
    }

    private static CommandRunner.Result Dotnet(string workingDirectory, params string[] args) =>
        CommandRunner.Run("dotnet", args, workingDirectory, Slow,
            environment: new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" });

    private static void CopyTree(string from, string to, bool topLevelFilesOnly = false)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", topLevelFilesOnly ? SearchOption.TopDirectoryOnly : SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}
