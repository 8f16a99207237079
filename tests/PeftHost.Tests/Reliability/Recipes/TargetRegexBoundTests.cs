using System.Diagnostics;
using System.Text.Json.Nodes;
using PeftHost.Cli.Commands;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Reliability.Training;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Recipes;

/// <summary>
/// Issue #23 item 2: a <c>target_modules</c> (or <c>rank_pattern</c>, <c>layers_pattern</c>…) regex with nested
/// quantifiers, from a recipe or from a downloaded <c>adapter_config.json</c>, hung the host step. PEFT's matching
/// (full match for a string) must hold, bounded in time. In real processes: before the fix these runs never end.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class TargetRegexBoundTests : IDisposable
{
    // Exponential for a backtracking engine on a path such as "model.layers.0.self_attn.q_proj", which never ends in "zz".
    private const string Catastrophic = @"(\\w+\\.?)+zz";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private (int Code, string Out, string Err, TimeSpan Elapsed) Run(string source)
    {
        string recipe = _dir["regex.js"];
        File.WriteAllText(recipe, source);
        var clock = Stopwatch.StartNew();
        var run = PeftProcess.RunToEnd(recipe, _dir["out"], Limit);
        return (run.Code, run.Out, run.Err, clock.Elapsed);
    }

    [Fact]
    public void A_catastrophic_target_regex_matches_nothing_quickly_and_a_normal_one_still_full_matches()
    {
        var run = Run($$"""
            import { loadModel, getPeftModel, log } from "peft";
            const model = loadModel("models/stories260k");
            try { getPeftModel(model, { method: "lora", r: 2, targetModules: "{{Catastrophic}}" }); log("ATTACHED"); }
            catch (e) { log("refused: " + e.message); }
            // PEFT's re.fullmatch: "q_proj" alone matches no path; the full path pattern matches the q projections.
            try { getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2, targetModules: "q_proj" }); log("PARTIAL MATCHED"); }
            catch (e) { log("partial refused"); }
            const ok = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2, targetModules: ".*\\.(q|v)_proj" });
            log("full match ok");
            """);
        Assert.True(run.Code == 0, run.Err);
        Assert.DoesNotContain("ATTACHED", run.Out);
        Assert.Contains("refused: ", run.Out);
        Assert.Contains("partial refused", run.Out);
        Assert.Contains("full match ok", run.Out);
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(30), $"took {run.Elapsed.TotalSeconds:F1} s");
        ReliabilityLog.Record("recipes", $"target_modules \"{Catastrophic.Replace(@"\\", @"\")}\" from a recipe: refused as matching no module; run {run.Elapsed.TotalSeconds:F1} s in all");
    }

    [Fact]
    public void A_catastrophic_regex_with_a_lookahead_times_out_naming_the_key()
    {
        // Lookarounds need the backtracking engine: it runs with a match timeout.
        var run = Run($$"""
            import { loadModel, getPeftModel } from "peft";
            getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2, targetModules: "(?=(\\w+\\.?)+zz).*" });
            """);
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Matches(@"^\S*regex\.js:2:\d+: .*target_modules: the regular expression .* took more than 1 s to match", PeftHost.Tests.Recipes.RecipeAssert.FailureLine(run.Err));
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(30), $"took {run.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void A_catastrophic_rank_pattern_key_is_bounded()
    {
        var run = Run($$"""
            import { loadModel, getPeftModel, log } from "peft";
            getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2, targetModules: ["q_proj"], rankPattern: { "{{Catastrophic}}": 4 } });
            log("attached");
            """);
        Assert.True(run.Code == 0, run.Err);
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(30), $"took {run.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void A_downloaded_adapter_config_with_a_catastrophic_regex_cannot_hang_peft_generate()
    {
        var saved = Run("""
            import { loadModel, getPeftModel, saveAdapter } from "peft";
            saveAdapter(getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2, targetModules: ["q_proj"] }), "adapter");
            """);
        Assert.True(saved.Code == 0, saved.Err);
        string adapter = Path.Combine(_dir["out"], "adapter");
        string configFile = Path.Combine(adapter, "adapter_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configFile))!.AsObject();
        config["target_modules"] = Catastrophic.Replace(@"\\", @"\");
        File.WriteAllText(configFile, config.ToJsonString());

        var clock = Stopwatch.StartNew();
        using var peft = PeftProcess.Start(["generate", "--model", Path.Combine(TestPaths.RepoRoot, "models", "stories260k"), "--adapter", adapter, "--prompt", "Once", "-n", "4"]);
        int code = peft.WaitForExit(Limit);
        Assert.Equal(PeftCli.Failure, code);
        Assert.Contains("adapter_config.json", peft.Stderr);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed.TotalSeconds:F1} s");
        ReliabilityLog.Record("recipes", $"peft generate --adapter with target_modules \"{Catastrophic.Replace(@"\\", @"\")}\" in adapter_config.json: exit 1 after {clock.Elapsed.TotalSeconds:F1} s, \"{peft.Stderr.Split('\n')[0].Replace(_dir.Path + "/", "")}\"");
    }
}
