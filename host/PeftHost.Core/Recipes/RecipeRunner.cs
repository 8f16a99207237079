using System.Runtime.ExceptionServices;
using Jint;
using Jint.Native;
using PeftHost.Core.Recipes.Api;
using PeftHost.Core.Recipes.Limits;
using PeftHost.Core.Recipes.Sandbox;
using PeftHost.Core.Recipes.Threading;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes;

/// <summary>
/// Runs a recipe: an ES module executed by Jint in a sandbox, with the <c>"peft"</c> API module
/// importable. The script runs on its own thread (a large stack for deep but bounded recursion);
/// long API steps run on a job thread (see <see cref="JobDispatcher"/>). No CLR access is given:
/// interop is off, and the API hands scripts only plain values, functions and opaque handles.
/// </summary>
public sealed class RecipeRunner
{
    private const int ScriptStackSize = 64 * 1024 * 1024;
    private static readonly TimeSpan WatchInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Runs <paramref name="options"/>' recipe with what <paramref name="host"/> lends; never throws for script or sandbox failures.</summary>
    public RecipeResult Run(RecipeRunOptions options, RecipeHostContext host, CancellationToken cancellation = default)
    {
        options.Limits.Validate();
        // The script's own token: cancelled by the caller, or by this runner when it gives up on the script thread,
        // so that an abandoned script stops at its next statement or host-step boundary. Not disposed: an
        // abandoned script thread may still observe it.
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var clock = new ScriptClock();
        var memory = new ScriptMemoryBudget(options.Limits.MaxMemoryBytes);
        var watch = new SingleCallWatch(clock, memory, options.Limits, cancellation);
        RecipeResult? result = null;
        ExceptionDispatchInfo? crash = null;
        var thread = new Thread(() =>
        {
            try { result = RunOnScriptThread(options, host, clock, memory, stop.Token); }
            catch (Exception e) { crash = ExceptionDispatchInfo.Capture(e); }
        }, ScriptStackSize)
        {
            Name = "recipe script",
            IsBackground = true,
        };
        thread.Start();
        while (!thread.Join(WatchInterval))
        {
            if (watch.Check() is not { } overrun) continue;
            stop.Cancel();
            // The thread cannot be interrupted inside a native call: it is left to end at its next statement
            // (it is a background thread, so it never keeps the process alive).
            bool cancelled = cancellation.IsCancellationRequested;
            return new RecipeResult(cancelled ? RecipeOutcome.Cancelled : RecipeOutcome.Failed,
                RecipeErrorReport.Abandoned(Path.GetFullPath(options.RecipePath), overrun.Message, cancelled), Path.GetFullPath(options.OutputFolder), []);
        }
        crash?.Throw();
        return result!;
    }

    private static RecipeResult RunOnScriptThread(RecipeRunOptions options, RecipeHostContext host, ScriptClock clock, ScriptMemoryBudget memory, CancellationToken cancellation)
    {
        string recipe = Path.GetFullPath(options.RecipePath);
        string output = Path.GetFullPath(options.OutputFolder);
        if (!File.Exists(recipe)) return SetupFailure(options.RecipePath, output, "recipe not found");
        if (Path.GetExtension(recipe) is not (".js" or ".mjs")) return SetupFailure(options.RecipePath, output, "a recipe is a JavaScript module (.js or .mjs)");
        var parameters = new RecipeParameters(options.Parameters);
        RunOutputFolder outputFolder;
        try { outputFolder = RunOutputFolder.Open(output); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return SetupFailure(options.RecipePath, output, e.Message); }
        using var ownedOutput = outputFolder;
        output = outputFolder.Path;
        var record = StartRecord(output, recipe, options);
        record.Write(output);
        var result = RunInFolder(options, host, clock, memory, cancellation, recipe, output, parameters, outputFolder);
        (record with { Status = result.Outcome switch
        {
            RecipeOutcome.Succeeded => RunStatus.Succeeded,
            RecipeOutcome.Cancelled => RunStatus.Cancelled,
            _ => RunStatus.Failed,
        } }).Write(output);
        return result;
    }

    private static RecipeResult RunInFolder(RecipeRunOptions options, RecipeHostContext host, ScriptClock clock, ScriptMemoryBudget memory,
        CancellationToken cancellation, string recipe, string output, RecipeParameters parameters, RunOutputFolder outputFolder)
    {

        string folder = Path.GetDirectoryName(recipe)!;
        var loader = new RecipeModuleLoader(folder);
        var paths = new PathPolicy(folder, options.Workspace, output, options.ExtraReadRoots);
        using var engine = new Engine(o =>
        {
            o.EnableModules(loader);
            o.Interop.Enabled = false;
            o.Interop.AllowGetType = false;
            o.Interop.AllowSystemReflection = false;
            o.Host.StringCompilationAllowed = false; // no eval / new Function: everything that runs is in the recipe's files
            // Atomics.wait blocks inside one call, where no budget is checked; a recipe has no other agent to wake it.
            o.AgentCanSuspend = false;
            o.Constraints.MaxRecursionDepth = options.Limits.MaxRecursionDepth;
            o.Constraints.StackOverflowGuard = true;
            // One array cannot take the whole memory budget in a single allocation, before the budget is checked.
            o.Constraints.MaxArraySize = (uint)Math.Clamp(options.Limits.MaxMemoryBytes / 64, 1024, uint.MaxValue - 1);
            o.Constraints.Constraints.Add(new StatementBudget(options.Limits.MaxStatements));
            o.Constraints.Constraints.Add(new ScriptTimeBudget(clock, options.Limits.Timeout));
            // The budgets are checked between statements; one regular expression match (catastrophic
            // backtracking) runs inside a single statement, bounded only by Jint's 10 s regex timeout,
            // which a shorter --timeout must also bound.
            o.Constraints.RegexTimeout = options.Limits.Timeout < TimeSpan.FromSeconds(10) ? options.Limits.Timeout : TimeSpan.FromSeconds(10);
            o.Constraints.Constraints.Add(memory);
            o.Constraints.Constraints.Add(new CancellationCheck(cancellation));
        });
        var report = new RecipeErrorReport(loader, recipe, options.Limits);
        using var session = new RecipeSession(engine, paths, new JobDispatcher(clock), host, parameters,
            Path.GetFileNameWithoutExtension(recipe), options.Limits, cancellation) { ResumesTraining = options.Resume };
        var exports = RecipeApi.Build(session);
        engine.Modules.Add(RecipeModuleLoader.ApiModule, builder =>
        {
            foreach (var (name, value) in exports) builder.ExportValue(name, value);
        });
        ConsoleObject.Install(session);
        if (outputFolder.TakenOverFrom is int killed && killed != Environment.ProcessId)
            session.Log($"{output}: took over the lock of process {killed}, which ended without releasing it", LogLevel.Warning);

        memory.Start();
        clock.Start();
        try
        {
            var ns = engine.Modules.Import(recipe);
            var names = ns.GetOwnPropertyKeys(Jint.Runtime.Types.String).Select(k => k.ToString()).ToList();
            if (parameters.Keys.Count > 0 && !session.ParamsDeclared)
                session.Log($"--set {string.Join(", ", parameters.Keys)}: the recipe declares no parameters with defineParams; the values were only in params", LogLevel.Warning);
            return new RecipeResult(RecipeOutcome.Succeeded, null, output, names);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or AccessViolationException))
        {
            var failure = report.Describe(e);
            bool cancelled = failure.Kind == RecipeFailureKind.Cancelled || (cancellation.IsCancellationRequested && e is OperationCanceledException);
            return new RecipeResult(cancelled ? RecipeOutcome.Cancelled : RecipeOutcome.Failed,
                cancelled ? failure with { Kind = RecipeFailureKind.Cancelled } : failure, output, []);
        }
    }

    private static RecipeResult SetupFailure(string recipe, string output, string message) =>
        new(RecipeOutcome.Failed, RecipeErrorReport.Setup(recipe, message), output, []);

    /// <summary>
    /// What ran: the recipe, its --set values and limits (run.json in the output folder). A resumed run keeps the
    /// record's start and adds the time of the resume.
    /// </summary>
    private static RunRecord StartRecord(string output, string recipe, RecipeRunOptions options)
    {
        string now = DateTimeOffset.Now.ToString("o");
        var previous = options.Resume ? RunRecord.Read(output) : null;
        return new RunRecord
        {
            Recipe = recipe,
            RecipeSha256 = RunRecord.HashOf(recipe),
            Started = previous?.Started ?? now,
            Resumed = previous is null ? [] : [.. previous.Resumed, now],
            Parameters = options.Parameters,
            Limits = options.Limits,
        };
    }
}
