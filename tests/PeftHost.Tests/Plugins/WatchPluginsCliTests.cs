using System.CommandLine;
using System.Diagnostics;
using System.Text.RegularExpressions;
using PeftHost.Cli.Commands;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;
using Xunit;

namespace PeftHost.Tests.Plugins;

/// <summary>
/// What a plugin author sees while <c>peft run --watch-plugins</c> trains with their method and they rebuild it:
/// real rebuilds of the ChannelScale fixture, the CLI in-process, the recipe subscribed to <c>on("plugin")</c>.
/// </summary>
[Collection(PluginTestCollection.Name)]
public sealed class WatchPluginsCliTests(HotReloadBuild build) : IClassFixture<HotReloadBuild>
{
    private const string Recipe = """
        import { loadModel, getPeftModel, loadDataset, train, on, log } from "peft";
        const model = getPeftModel(loadModel("models/stories260k"), { method: "channel_scale", targetModules: ["q_proj", "v_proj"] });
        const data = loadDataset(["Sparky the dragon lived in a big cave.", "Lily found a red ball in the park."], { format: "text", maxLength: 16 });
        let reloaded = false;
        on("plugin", (e) => {
          log(`plugin event: ${e.outcome} ${e.plugin} ${e.version}, serving ${e.servingVersion}, reason: ${e.reason}`);
          if (e.outcome === "reloaded") { reloaded = true; log(`reload took ${e.changeToReinjectMs > 0 ? "a measured time" : "no time"}; previous ${e.previousVersion}`); }
        });
        log("training started");
        const result = train(model, data, { maxSteps: 1000000, batchSize: 2, logEvery: 1000000, onStep: (s) => { if (reloaded) s.stop("reloaded"); } });
        log("training ended:", result.reason);
        """;

    [Fact]
    public async Task A_refused_rebuild_and_a_good_one_each_give_one_line_in_the_console_and_an_event_to_the_recipe()
    {
        using var h = new RecipeHarness();
        string recipe = h.Write("recipe.js", Recipe);
        var stdout = new SharedWriter();
        var stderr = new SharedWriter();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(6)); // a stuck run must not hang the suite
        var root = new RootCommand { RunCommand.Create(cancel.Token) };
        var run = Task.Run(() => root.Parse(["run", recipe, "--out", h.Output, "--workspace", TestPaths.RepoRoot, "--plugins", build.Root, "--watch-plugins"])
            .Invoke(new InvocationConfiguration { Output = stdout, Error = stderr }));

        await stdout.WaitFor("training started", run, stderr);
        build.Rebuild("1.1.0", gain: 1.0, constructorThrows: true);
        await stdout.WaitFor("plugin event: refused", run, stderr);
        build.Rebuild("1.2.0", gain: 1.0);
        int code = await run;

        string output = stdout.Text, errors = stderr.Text;
        Assert.True(code == 0, $"exit {code}\nstdout:\n{output}\nstderr:\n{errors}");
        // The refusal says which build was refused, why, and which build still serves; once, on stderr.
        var refused = Regex.Matches(errors, @"reload of ChannelScale 1\.1\.0 refused: [^\n]*constructor exploded[^\n]*; 1\.0\.0 still serving");
        Assert.True(refused.Count == 1, $"expected one refusal line:\n{errors}");
        Assert.Contains("plugin event: refused ChannelScale 1.1.0, serving 1.0.0, reason: ", output);
        // The good build: one line with the timing the docs promise, and the recipe's event.
        var reloaded = Regex.Matches(errors, @"plugin ChannelScale reloaded: 1\.0\.0 → 1\.2\.0 \(generation 2\), \d+ ms from the file change to re-injection, \d+ ms of it at the step boundary");
        Assert.True(reloaded.Count == 1, $"expected one reload line:\n{errors}");
        Assert.Contains("plugin event: reloaded ChannelScale 1.2.0, serving 1.2.0, reason: null", output);
        Assert.Contains("reload took a measured time; previous 1.0.0", output);
        Assert.Contains("training ended: stopped", output);
        Assert.DoesNotContain("changed on disk", output + errors);
    }

    /// <summary>A writer the CLI writes to on its threads while the test reads it.</summary>
    private sealed class SharedWriter : StringWriter
    {
        private readonly object _gate = new();

        public string Text
        {
            get { lock (_gate) return GetStringBuilder().ToString(); }
        }

        public override void Write(char value) { lock (_gate) base.Write(value); }

        public override void Write(string? value) { lock (_gate) base.Write(value); }

        public override void WriteLine(string? value) { lock (_gate) base.WriteLine(value); }

        /// <summary>Waits until <paramref name="text"/> was written; fails if the run ends first or after 4 minutes, showing <paramref name="errors"/> too.</summary>
        public async Task WaitFor(string text, Task<int> run, SharedWriter errors)
        {
            var clock = Stopwatch.StartNew();
            while (!Text.Contains(text, StringComparison.Ordinal))
            {
                Assert.False(run.IsCompleted, $"the run ended (exit {(run.IsCompletedSuccessfully ? run.Result : -1)}) before '{text}':\n{Text}\nstderr:\n{errors.Text}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(4), $"'{text}' never came:\n{Text}");
                await Task.Delay(50);
            }
        }
    }
}
