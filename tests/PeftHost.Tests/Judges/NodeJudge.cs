using PeftHost.Bench;

namespace PeftHost.Tests.Judges;

/// <summary>
/// An external reference implementation run under Node (llama.cpp through node-llama-cpp, the transformers.js
/// tokenizers, @huggingface/jinja). The tests install it themselves (<see cref="NodePackages"/>: exactly pinned packages
/// in a cache folder outside the repository, once per package set). When the npm registry cannot be reached the test is
/// skipped with that reason; any other install failure fails the test.
/// </summary>
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
        var key = string.Join(' ', pinnedPackages.Order(StringComparer.Ordinal));
        Task<NodeJudge> install;
        lock (Installs)
        {
            if (!Installs.TryGetValue(key, out install!))
                Installs[key] = install = Task.Run(() => new NodeJudge(NodePackages.Install(pinnedPackages)));
        }
        try
        {
            return install.GetAwaiter().GetResult();
        }
        catch (NpmRegistryUnreachableException e)
        {
            throw new SkipException(e.Message);
        }
    }

    /// <summary>
    /// Runs an ES-module script (a file, typically copied to the test output) with the judge's packages importable,
    /// feeding <paramref name="stdin"/>; returns its standard output. Throws with the script's standard error
    /// when it exits non-zero.
    /// </summary>
    public string Run(string scriptFile, string? stdin = null, IEnumerable<string>? args = null, TimeSpan? timeout = null) =>
        NodePackages.RunScript(Folder, scriptFile, args, stdin, timeout);
}
