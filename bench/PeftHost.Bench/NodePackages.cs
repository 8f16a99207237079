using System.Security.Cryptography;
using System.Text;

namespace PeftHost.Bench;

/// <summary>
/// Exactly pinned npm packages (llama.cpp's Node binding, the transformers.js tokenizers, @huggingface/jinja), installed
/// with <c>npm install -E</c> into a cache folder outside the repository, once per package set, shared by every process
/// (a lock file serialises the install). The tests' judges and the bench's reference runs both use it.
/// </summary>
public static class NodePackages
{
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
    /// The folder whose <c>node_modules</c> holds <paramref name="pinnedPackages"/> (each <c>name@version</c>), installed on
    /// first use. Throws <see cref="NpmRegistryUnreachableException"/> when npm cannot reach its registry.
    /// </summary>
    public static string Install(params string[] pinnedPackages)
    {
        foreach (var p in pinnedPackages)
            if (p.LastIndexOf('@') <= 0) throw new ArgumentException($"'{p}' is not pinned as name@version.");
        var key = string.Join(' ', pinnedPackages.Order(StringComparer.Ordinal));
        var id = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16].ToLowerInvariant();
        var folder = Path.Combine(CacheRoot, id);
        var marker = Path.Combine(folder, ".installed");
        if (File.Exists(marker) && File.ReadAllText(marker) == key) return folder;

        Directory.CreateDirectory(folder);
        using var installLock = AcquireLock(Path.Combine(folder, ".lock"));
        if (File.Exists(marker) && File.ReadAllText(marker) == key) return folder;

        File.WriteAllText(Path.Combine(folder, "package.json"), "{ \"private\": true, \"type\": \"module\" }\n");
        var npm = CommandRunner.Run("npm", ["install", "--save-exact", "--no-audit", "--no-fund", "--loglevel=error", .. pinnedPackages],
            folder, TimeSpan.FromMinutes(15));
        if (npm.ExitCode != 0)
        {
            var output = npm.Stderr + npm.Stdout;
            if (LooksUnreachable(output))
                throw new NpmRegistryUnreachableException($"npm registry unreachable, {key} not installed: {FirstLine(output)}");
            throw new InvalidOperationException($"npm install {key} failed (exit {npm.ExitCode}):\n{output}");
        }
        File.WriteAllText(marker, key);
        return folder;
    }

    /// <summary>
    /// Runs an ES-module script with the packages in <paramref name="folder"/> importable and returns its standard output;
    /// throws with its standard error when it exits non-zero. Node resolves a module's imports from the module's own
    /// folder, so the script is copied beside <c>node_modules</c> first.
    /// </summary>
    public static string RunScript(string folder, string scriptFile, IEnumerable<string>? args = null, string? stdin = null,
        TimeSpan? timeout = null, IEnumerable<string>? nodeOptions = null)
    {
        var scripts = Directory.CreateDirectory(Path.Combine(folder, "scripts")).FullName;
        var copy = Path.Combine(scripts, Path.GetFileName(scriptFile));
        // Several processes may run the same script at once: write a private copy, then move it over atomically.
        var temp = copy + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.Copy(scriptFile, temp);
        File.Move(temp, copy, overwrite: true);
        var result = CommandRunner.Run("node", [.. nodeOptions ?? [], copy, .. args ?? []], folder, timeout ?? TimeSpan.FromMinutes(5), stdin);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"node {Path.GetFileName(scriptFile)} exited {result.ExitCode}:\n{result.Stderr}");
        return result.Stdout;
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
}

/// <summary>npm could not reach its registry (no network): a judge is skipped, never failed, for this reason alone.</summary>
public sealed class NpmRegistryUnreachableException(string message) : Exception(message);
