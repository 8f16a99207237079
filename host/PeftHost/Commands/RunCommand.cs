using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Core.Recipes;
using PeftHost.Core.Recipes.Output;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Commands;

/// <summary>
/// <c>peft run RECIPE.js [--set key=value]... [--out DIR] [--resume [RUN_DIR]] [--plugins DIR] [--watch-plugins]</c>: runs a
/// JavaScript recipe in the sandbox, or continues an interrupted run of it (<see cref="RunResumption"/>). Exit codes: 0 success; 1 a script error, host error or sandbox limit
/// (printed as <c>recipe.js:LINE:COL: message</c> and the JS stack); 130 cancelled with Ctrl-C
/// (training stops at a step boundary and writes a checkpoint first; a second Ctrl-C kills the
/// process); 2 a malformed command line.
/// </summary>
public static class RunCommand
{
    /// <summary>Exit code of a run cancelled with Ctrl-C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;

    /// <summary>Builds the command; <paramref name="cancellation"/> stands in for Ctrl-C (for tests and hosts).</summary>
    public static Command Create(CancellationToken cancellation = default)
    {
        var recipe = new Argument<string>("recipe") { Description = "The recipe: a JavaScript module (.js)" };
        var set = new Option<string[]>("--set", "-s")
        {
            Description = "A recipe parameter, key=value (numbers and true/false are typed; repeat for more)",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [],
        }.Check(assignments => { foreach (var a in assignments) RecipeParameters.Split(a); });
        var output = new Option<string?>("--out", "-o") { Description = "Output folder (default: runs/<recipe>-<timestamp>/); one run at a time, never / or a system folder" };
        var plugins = PluginsCommand.PluginDirectories();
        var workspace = new Option<string?>("--workspace") { Description = "Folder whose models/ and data/ the recipe may read (default: the current folder)" };
        var maxStatements = new Option<long?>("--max-statements") { Description = "JavaScript statements the recipe may run (default 200,000,000)" }.Positive();
        var timeout = new Option<double?>("--timeout") { Description = "Seconds of JavaScript time, host steps excluded (default 1800)" }
            .Positive().Check(s => OptionRules.Require(s is not { } x || x < TimeSpan.MaxValue.TotalSeconds, $"must be less than {TimeSpan.MaxValue.TotalSeconds:G3} seconds, got {s}"));
        var maxMemory = new Option<double?>("--max-memory") { Description = "MiB the recipe's JavaScript may allocate (default 4096)" }
            .Positive().Check(m => OptionRules.Require(m is not { } x || x * 1024 * 1024 <= long.MaxValue, $"must be at most {long.MaxValue / 1024 / 1024:N0} MiB, got {m}"));
        var watch = new Option<bool>("--watch-plugins") { Description = "Hot-reload plugins whose files change, at the next training step boundary" };
        var resume = new Option<string?>("--resume")
        {
            Description = "Continue an interrupted run of the recipe in its own output folder, with its --set values and from its latest checkpoints: "
                + "RUN_DIR, or the newest unfinished run of the recipe under runs/",
            Arity = ArgumentArity.ZeroOrOne,
            HelpName = "RUN_DIR",
        };

        var command = new Command("run", "Run a JavaScript recipe (ES module) that scripts loading, adapters, training and generation")
        {
            recipe, set, output, resume, plugins, workspace, maxStatements, timeout, maxMemory, watch,
        };
        command.SetAction(CommandAction.Of((parse, stdout) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            string recipePath = parse.GetValue(recipe)!;
            string root = Path.GetFullPath(parse.GetValue(workspace) ?? Directory.GetCurrentDirectory());
            string name = Path.GetFileNameWithoutExtension(recipePath);
            var parameters = parse.GetValue(set)!.Select(RecipeParameters.Split).ToList();
            bool resuming = parse.GetResult(resume) is not null;
            // A resumed run continues in its own folder with its own --set values (and limits, unless given again).
            if (parse.GetValue(resume) is { } named && parse.GetValue(output) is { } other && Path.GetFullPath(other) != Path.GetFullPath(named))
            {
                stderr.WriteLine($"error: --out {other} and --resume {named} name two folders; a resumed run writes to its own");
                return PeftCli.UsageError;
            }
            (string Folder, RunRecord Record)? resumed = resuming ? RunResumption.Find(recipePath, root, parse.GetValue(resume) ?? parse.GetValue(output), parameters) : null;
            string outDir = resumed?.Folder ?? parse.GetValue(output)
                ?? Path.Combine(root, RunResumption.RunsFolder, $"{name}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
            var defaults = resumed?.Record.Limits ?? new RecipeLimits();
            var limits = new RecipeLimits
            {
                MaxStatements = parse.GetValue(maxStatements) ?? defaults.MaxStatements,
                Timeout = parse.GetValue(timeout) is double seconds ? TimeSpan.FromSeconds(seconds) : defaults.Timeout,
                MaxMemoryBytes = parse.GetValue(maxMemory) is double mib ? (long)(mib * 1024 * 1024) : defaults.MaxMemoryBytes,
            };
            if (resumed is { } continued) stderr.WriteLine($"[peft] resuming {Shown(outDir)} (started {continued.Record.Started})");
            var options = new RecipeRunOptions
            {
                RecipePath = recipePath,
                OutputFolder = outDir,
                Workspace = root,
                Parameters = resumed?.Record.Parameters ?? parameters,
                Limits = limits,
                Resume = resuming,
            };

            var events = new EventBus();
            // Plugin files are watched only with --watch-plugins; a changed build is swapped in at a
            // training step boundary, where the recipe's PEFT models re-inject their adapters.
            bool hotReload = parse.GetValue(watch);
            using var pluginHost = new PluginHost(new PluginHostOptions { PluginDirectories = parse.GetValue(plugins) ?? [], WatchForChanges = hotReload }, events);
            var host = RecipeHostContext.ForPlugins(pluginHost, events, hotReload);
            // Progress is drawn on stderr, so the bar is live when stderr is a terminal (stdout may go to a file).
            bool interactive = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
            using var view = new RecipeConsoleView(events, stdout, stderr, interactive);
            using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            using var signal = ReferenceEquals(stdout, Console.Out) ? CtrlC(interrupt, view) : null;

            var result = new RecipeRunner().Run(options, host, interrupt.Token);
            view.Dispose();
            switch (result.Outcome)
            {
                case RecipeOutcome.Succeeded:
                    stderr.WriteLine($"done: outputs in {Shown(result.OutputFolder)}");
                    return 0;
                case RecipeOutcome.Cancelled:
                    stderr.WriteLine(result.Failure!.Headline);
                    stderr.WriteLine($"cancelled: outputs so far in {Shown(result.OutputFolder)}");
                    stderr.WriteLine($"to resume: {ResumeCommand(recipePath, result.OutputFolder, parse.GetValue(workspace))}");
                    return Cancelled;
                default:
                    stderr.WriteLine(result.Failure!.ToString());
                    return PeftCli.Failure;
            }
        }));
        return command;
    }

    /// <summary>The first Ctrl-C cancels the run (it stops at the next step boundary); a second one ends the process.</summary>
    private static PosixSignalRegistration CtrlC(CancellationTokenSource interrupt, RecipeConsoleView view) =>
        PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            if (interrupt.IsCancellationRequested) return; // second Ctrl-C: let the process end
            context.Cancel = true;
            view.Line("stopping at the next step boundary (Ctrl-C again to quit now)…", toError: true);
            interrupt.Cancel();
        });

    /// <summary>The command that continues a run: the same recipe, its folder, the same workspace.</summary>
    private static string ResumeCommand(string recipe, string outputFolder, string? workspace) =>
        $"peft run {ShellWord(recipe)} --resume {ShellWord(Shown(outputFolder))}" + (workspace is null ? "" : $" --workspace {ShellWord(workspace)}");

    /// <summary>A word a POSIX shell reads back as <paramref name="text"/>.</summary>
    private static string ShellWord(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or '+' or ':' or '=' or ',')
            ? text : "'" + text.Replace("'", "'\\''") + "'";

    private static string Shown(string path)
    {
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }
}
