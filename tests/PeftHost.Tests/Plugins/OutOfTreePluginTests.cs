using PeftHost.Sdk;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;
using Xunit;

namespace PeftHost.Tests.Plugins;

/// <summary>
/// A third party's plugin, made the way docs/PLUGINS.md ("Outside the repository") says, from only what a user has:
/// the SDK packed into a local folder feed, the project template installed with <c>dotnet new</c>, a build in a folder
/// of its own, then <c>peft run --plugins</c>. Offline: the feed and the NuGet cache (as a fallback folder) serve the restore.
/// </summary>
[Collection(PluginTestCollection.Name)]
public sealed class OutOfTreePluginTests
{
    private const string Recipe = """
        import { loadModel, getPeftModel, addAdapter, setAdapter, loadDataset, train, evaluate, generate, saveAdapter, loadAdapter, mergeAndUnload, disableAdapter, log } from "peft";
        const config = { method: "out_scale", targetModules: ["q_proj", "v_proj", "o_proj"] };
        const model = getPeftModel(loadModel("models/stories260k"), config, "a");
        addAdapter(model, "b", config);
        const data = loadDataset(["Sparky the dragon lived in a big cave and liked to fly.", "Sparky the dragon found a red ball and gave it to Lily."], { format: "text", maxLength: 24 });
        setAdapter(model, "a");
        const base = disableAdapter(model, () => evaluate(model, data).loss);
        train(model, data, { maxSteps: 20, learningRate: 0.05, batchSize: 2 });
        const trained = evaluate(model, data).loss;
        log("a trained lower:", trained < base);
        setAdapter(model, "b");
        log("b untrained is the base:", evaluate(model, data).loss === base);
        setAdapter(model, "a");
        const alone = generate(model, "Sparky the dragon", { maxNewTokens: 12 });
        const mixed = generate(model, ["Sparky the dragon", "Sparky the dragon", "Sparky the dragon"], { maxNewTokens: 12, adapterNames: ["a", "b", "__base__"] });
        log("mixed row a is a alone:", mixed[0] === alone);
        log("mixed row b is the base row:", mixed[1] === mixed[2]);
        const saved = saveAdapter(model, "adapters");
        const again = loadAdapter(loadModel("models/stories260k"), saved + "/a", "a");
        log("a loaded back:", Math.abs(evaluate(again, data).loss - trained) < 1e-6);
        const merged = mergeAndUnload(model);
        log("a merged:", Math.abs(evaluate(merged, data).loss - trained) < 1e-4);
        """;

    [Fact]
    public void A_plugin_made_from_the_template_against_the_packed_SDK_serves_several_adapters_mixed_batches_save_and_merge()
    {
        using var dir = new TempDir();
        string repo = TestPaths.RepoRoot, feed = Path.Combine(dir.Path, "feed"), hive = Path.Combine(dir.Path, "template-hive");
        string sdkVersion = PeftHost.Core.Plugins.PluginInfo.FormatVersion(SdkVersion.Current);

        // 1. Pack the SDK into a folder feed (from the build the tests run on, so the repository is not rebuilt under them).
        FixturePluginBuilder.Dotnet(repo, "pack", "host/PeftHost.Sdk/PeftHost.Sdk.csproj", "-c", TestPaths.Configuration, "--no-build", "-nologo",
            "-o", feed, $"-p:NuspecOutputPath={dir.Path}/nuspec/");
        Assert.True(File.Exists(Path.Combine(feed, $"PeftHost.Sdk.{sdkVersion}.nupkg")), string.Join(", ", Directory.GetFiles(feed)));

        // 2. Install the template (into a private template list) and make a plugin from it that restores from the feed.
        FixturePluginBuilder.Dotnet(dir.Path, "new", "install", Path.Combine(repo, "templates", "peft-plugin"), "--debug:custom-hive", hive);
        FixturePluginBuilder.Dotnet(dir.Path, "new", "peft-plugin", "-n", "OutScale", "--methodName", "out_scale", "--peftType", "OUT_SCALE",
            "--sdkFeed", feed, "--debug:custom-hive", hive);
        string project = Path.Combine(dir.Path, "OutScale");
        Assert.Contains($"Include=\"PeftHost.Sdk\" Version=\"{sdkVersion}\"", File.ReadAllText(Path.Combine(project, "OutScale.csproj")));

        // 3. Build it out of the tree. No source but the feed; every other package comes from the local cache.
        File.WriteAllText(Path.Combine(dir.Path, "nuget.config"), "<configuration><packageSources><clear /></packageSources></configuration>");
        FixturePluginBuilder.Dotnet(project, "build", "-nologo", "-v:q", "-clp:ErrorsOnly", "-nodeReuse:false",
            $"-p:RestorePackagesPath={dir.Path}/packages", $"-p:RestoreFallbackFolders={NuGetCache()}");
        string plugins = Path.Combine(project, "bin", "plugins");
        Assert.True(File.Exists(Path.Combine(plugins, "OutScale", "OutScale.dll")));
        Assert.False(File.Exists(Path.Combine(plugins, "OutScale", "PeftHost.Sdk.dll")), "the plugin must not ship the SDK");
        Assert.False(File.Exists(Path.Combine(plugins, "OutScale", "TorchSharp.dll")), "the plugin must not ship TorchSharp");

        // 4. Load it into the host and run it: two adapters, training, a mixed-adapter batch, save, load, merge.
        using var h = new RecipeHarness();
        var run = h.RunOk(Recipe, "--plugins", plugins);
        foreach (var line in new[]
                 {
                     "a trained lower: true", "b untrained is the base: true", "mixed row a is a alone: true",
                     "mixed row b is the base row: true", "a loaded back: true", "a merged: true",
                 })
            Assert.Contains(line, run.Out);

        // 5. The template's code passes the scalar check a plugin's build can run.
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = PeftHost.Cli.Commands.PeftCli.Run(["plugins", "--check", "--plugins", plugins], output, error);
        Assert.True(code == 0, $"{output}{error}");
        Assert.Contains("out_scale", output.ToString());
        Assert.Contains("scalar check: no call hands libtorch a temporary Scalar", output.ToString());
    }

    private static string NuGetCache() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } cache
            ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
