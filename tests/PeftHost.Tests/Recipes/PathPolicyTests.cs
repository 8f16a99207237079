using PeftHost.Core.Recipes.Sandbox;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>Where recipe paths point and which are refused, as the file system resolves them.</summary>
public sealed class PathPolicyTests : IDisposable
{
    private readonly TempDir _root = new();
    private readonly PathPolicy _policy;

    public PathPolicyTests()
    {
        foreach (var d in new[] { "ws/models/m", "ws/data", "ws/recipes/lib", "ws/runs/out", "ws/secret", "elsewhere" })
            Directory.CreateDirectory(_root[d]);
        _policy = new PathPolicy(_root["ws/recipes"], _root["ws"], _root["ws/runs/out"]);
    }

    public void Dispose() => _root.Dispose();

    [Fact]
    public void Relative_reads_resolve_against_the_recipe_folder_the_output_folder_or_the_workspace()
    {
        Directory.CreateDirectory(_root["ws/runs/out/adapter"]);
        Assert.Equal(_root["ws/recipes/lib"], _policy.Resolve("./lib", PathAccess.Read, "t"));
        Assert.Equal(_root["ws/models/m"], _policy.Resolve("../models/m", PathAccess.Read, "t"));
        Assert.Equal(_root["ws/models/m"], _policy.Resolve("models/m", PathAccess.Read, "t"));
        Assert.Equal(_root["ws/runs/out/adapter"], _policy.Resolve("adapter", PathAccess.Read, "t"));
        Assert.Equal(_root["ws/data/x.jsonl"], _policy.Resolve("data/x.jsonl", PathAccess.Read, "t"));
    }

    [Fact]
    public void Writes_go_under_the_output_folder_only()
    {
        Assert.Equal(_root["ws/runs/out/a/b"], _policy.Resolve("a/b", PathAccess.Write, "t"));
        Assert.Equal(_root["ws/runs/out/c"], _policy.Resolve("./c", PathAccess.Write, "t"));
        Assert.Throws<SandboxViolationException>(() => _policy.Resolve("../x", PathAccess.Write, "t"));
        Assert.Throws<SandboxViolationException>(() => _policy.Resolve(_root["ws/models/m/w"], PathAccess.Write, "t"));
    }

    [Theory]
    [InlineData("../secret")]
    [InlineData("secret")]
    [InlineData("models/../secret")]
    [InlineData("/etc/passwd")]
    [InlineData("../../elsewhere")]
    public void Reads_outside_the_roots_are_refused(string path)
    {
        var e = Assert.Throws<SandboxViolationException>(() => _policy.Resolve(path, PathAccess.Read, "loadModel"));
        Assert.StartsWith($"loadModel: '{path}'", e.Message);
    }

    [Fact]
    public void A_link_inside_a_root_pointing_outside_is_refused_and_named()
    {
        Directory.CreateSymbolicLink(_root["ws/models/evil"], _root["elsewhere"]);
        var e = Assert.Throws<SandboxViolationException>(() => _policy.Resolve("models/evil", PathAccess.Read, "loadModel"));
        Assert.Contains($"goes through a symbolic link to {_root["elsewhere"]}", e.Message);
    }

    [Fact]
    public void A_link_pointing_inside_the_roots_is_fine()
    {
        Directory.CreateSymbolicLink(_root["ws/recipes/models-link"], _root["ws/models/m"]);
        Assert.Equal(_root["ws/models/m"], _policy.Resolve("./models-link", PathAccess.Read, "t"));
    }

    [Fact]
    public void Dot_dot_after_a_link_climbs_from_the_link_target_as_the_kernel_does()
    {
        // ws/recipes/jump -> elsewhere/deep ; "jump/../x" is elsewhere/x, not ws/recipes/x.
        Directory.CreateDirectory(_root["elsewhere/deep"]);
        Directory.CreateSymbolicLink(_root["ws/recipes/jump"], _root["elsewhere/deep"]);
        Assert.Equal(_root["elsewhere/x"], RealPath.Resolve(_root["ws/recipes/jump/../x"]));
        Assert.Throws<SandboxViolationException>(() => _policy.Resolve("./jump/../x", PathAccess.Read, "t"));
    }

    [Fact]
    public void Relative_link_targets_and_chains_are_followed()
    {
        Directory.CreateSymbolicLink(_root["ws/data/one"], "two");
        Directory.CreateSymbolicLink(_root["ws/data/two"], "../models/m");
        Assert.Equal(_root["ws/models/m"], RealPath.Resolve(_root["ws/data/one"]));
    }

    [Fact]
    public void Link_loops_are_an_error_not_a_hang()
    {
        File.CreateSymbolicLink(_root["ws/data/a"], _root["ws/data/b"]);
        File.CreateSymbolicLink(_root["ws/data/b"], _root["ws/data/a"]);
        Assert.Throws<IOException>(() => RealPath.Resolve(_root["ws/data/a"]));
    }

    [Fact]
    public void A_dangling_link_out_of_the_roots_is_refused_for_writing()
    {
        File.CreateSymbolicLink(_root["ws/runs/out/plot.png"], _root["elsewhere/plot.png"]);
        Assert.Throws<SandboxViolationException>(() => _policy.Resolve("plot.png", PathAccess.Write, "plot"));
    }
}
