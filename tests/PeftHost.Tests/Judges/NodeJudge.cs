using System.Security.Cryptography;
using System.Text;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Judges;

/// <summary>
/// An external reference implementation run under Node (llama.cpp through node-llama-cpp, the transformers.js
/// tokenizers, @huggingface/jinja). The tests install it themselves: <c>npm install -E</c> of exactly pinned
/// packages into a cache folder outside the repository, once per package set, shared by every test process
/// (a lock file serialises the install). When the npm registry cannot be reached the test is skipped with
/// that reason; any other install failure fails the test.
/// </summary>
/// <remarks>
/// Scripts are ES modules; Node resolves their imports from the script's own folder, so <see cref="Run"/>
/// copies each script into the judge's folder (beside its <c>node_modules</c>) before running it.
/// </remarks>
public sealed class NodeJudge
{
    private static readonly Dictionary<string, Task<NodeJudge>> Installs = new();

    private NodeJudge(string folder) => Folder = folder;

    /// <summary>The folder holding <c>node_modules</c> with the judge's packages.</summary>
    public string Folder { get; }

    /// <summary>
    /// The judge with these exactly pinned packages (<c>name@version</c>), installed on first use.
    /// Skips the calling test (Xunit.SkippableFact) when the registry is unreachable.
    /// </summary>
    public static NodeJudge Require(params string[] pinnedPackages)
    {
        foreach (var p in pinnedPackages)
            if (p.LastIndexOf('@') <= 0) throw new ArgumentException($"'{p}' is not pinned as name@version.");
        var key = string.Join(' ', pinnedPackages.Order(StringComparer.Ordinal));
        Task<NodeJudge> install;
        lock (Installs)
        {
            if (!Installs.TryGetValue(key, out install!))
                Installs[key] = install = Task.Run(() => Install(key, pinnedPackages));
        }
        try
        {
            return install.GetAwaiter().GetResult();
        }
        catch (RegistryUnreachableException e)
        {
            throw new SkipException(e.Message);
        }
    }

    /// <summary>The cache root: <c>$PEFTHOST_JUDGE_CACHE</c>, else <c>$XDG_CACHE_HOME/pefthost/judges</c>, else <c>~/.cache/pefthost/judges</c>.</summary>
    public static string CacheRoot
    {
        get
        {
            var explicitRoot = Environment.GetEnvironmentVariable("PEFTHOST_JUDGE_CACHE");
            if (!string.IsNullOrEmpty(explicitRoot)) return explicitRoot;
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var cache = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(cache, "pefthost", "judges");
        }
    }

    /// <summary>
    /// Runs an ES-module script (a file, typically copied to the test output) with the judge's packages importable,
    /// feeding <paramref name="stdin"/>; returns its standard output. Throws with the script's standard error
    /// when it exits non-zero.
    /// </summary>
    public string Run(string scriptFile, string? stdin = null, IEnumerable<string>? args = null, TimeSpan? timeout = null)
    {
        var scripts = Directory.CreateDirectory(Path.Combine(Folder, "scripts")).FullName;
        var copy = Path.Combine(scripts, Path.GetFileName(scriptFile));
        // Several tests may run the same script at once: write a private copy, then move it over atomically.
        var temp = copy + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.Copy(scriptFile, temp);
        File.Move(temp, copy, overwrite: true);
        var result = ChildProcess.Run("node", [copy, .. args ?? []], Folder, timeout ?? TimeSpan.FromMinutes(5), stdin);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"node {Path.GetFileName(scriptFile)} exited {result.ExitCode}:\n{result.Stderr}");
        return result.Stdout;
    }

    private static NodeJudge Install(string key, string[] packages)
    {
        var id = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16].ToLowerInvariant();
        var folder = Path.Combine(CacheRoot, id);
        var marker = Path.Combine(folder, ".installed");
        if (File.Exists(marker) && File.ReadAllText(marker) == key) return new NodeJudge(folder);

        Directory.CreateDirectory(folder);
        using var installLock = AcquireLock(Path.Combine(folder, ".lock"));
        if (File.Exists(marker) && File.ReadAllText(marker) == key) return new NodeJudge(folder);

        File.WriteAllText(Path.Combine(folder, "package.json"), "{ \"private\": true, \"type\": \"module\" }\n");
        var npm = ChildProcess.Run("npm", ["install", "--save-exact", "--no-audit", "--no-fund", "--loglevel=error", .. packages],
            folder, TimeSpan.FromMinutes(15));
        if (npm.ExitCode != 0)
        {
            var output = npm.Stderr + npm.Stdout;
            if (LooksUnreachable(output))
                throw new RegistryUnreachableException($"npm registry unreachable, judge {key} not installed: {FirstLine(output)}");
            throw new InvalidOperationException($"npm install {key} failed (exit {npm.ExitCode}):\n{output}");
        }
        File.WriteAllText(marker, key);
        return new NodeJudge(folder);
    }

    private static bool LooksUnreachable(string npmOutput) =>
        new[] { "ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH", "network" }
            .Any(code => npmOutput.Contains(code, StringComparison.OrdinalIgnoreCase));

    private static string FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";

    /// <summary>An exclusive lock on a file, held until disposed; waits for other processes (up to 20 minutes).</summary>
    private static FileStream AcquireLock(string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(20);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline) { Thread.Sleep(500); }
        }
    }

    private sealed class RegistryUnreachableException(string message) : Exception(message);
}
