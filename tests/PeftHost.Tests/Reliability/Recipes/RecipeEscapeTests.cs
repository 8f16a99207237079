using System.Diagnostics;
using System.Runtime.Loader;
using PeftHost.Cli.Commands;
using PeftHost.Core.Runtime;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Reliability.Training;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Recipes;

/// <summary>
/// Recipes are untrusted: escapes the recipe tests (tests/PeftHost.Tests/Recipes) do not already
/// try — every other road to string compilation, CLR objects behind host errors and API functions,
/// the complete set of globals, writes through a link planted in the output folder, odd paths,
/// importing a .NET assembly, and single native calls that amplify memory or time past the
/// between-statement budgets. Each must end in a clean recipe error (exit 1, file:line:col) within
/// its bounds, with nothing read or written outside the allowed folders.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class RecipeEscapeTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Every_road_to_string_compilation_is_closed()
    {
        var run = _h.Run("compile.js", """
            import { log } from "peft";
            const roads = {
              functionConstructor: () => (function () {}).constructor("return 1")(),
              asyncFunctionConstructor: () => Object.getPrototypeOf(async function () {}).constructor("return 1"),
              generatorConstructor: () => Object.getPrototypeOf(function* () {}).constructor("yield 1"),
              asyncGeneratorConstructor: () => Object.getPrototypeOf(async function* () {}).constructor("yield 1"),
              indirectEval: () => (0, eval)("1"),
              computedEval: () => globalThis["ev" + "al"]("1"),
              reflectConstruct: () => Reflect.construct(Function, ["return 1"])(),
              boundFunction: () => Function.prototype.bind.call(Function, null, "return 1")()(),
              shadowRealm: () => new ShadowRealm().evaluate("1"),
            };
            for (const [road, open] of Object.entries(roads)) {
              let outcome;
              try { outcome = "RAN " + String(open()); } catch (e) { outcome = e instanceof TypeError || e instanceof EvalError ? "closed: " + e.message : "other: " + e; }
              log(`${road}: ${outcome}`);
            }
            """);
        Assert.True(run.Code == 0, run.Err);
        var lines = run.Out.Split('\n').Where(l => l.Contains(": ")).ToList();
        Assert.Equal(9, lines.Count(l => l.Contains(": closed: String compilation has been disabled")));
        Assert.DoesNotContain("RAN", run.Out);
        ReliabilityLog.Record("recipes", "9 roads to string compilation (Function/AsyncFunction/Generator/AsyncGenerator constructors, indirect and computed eval, Reflect.construct, bind, ShadowRealm): all closed");
    }

    [Fact]
    public void Host_errors_API_functions_and_globals_expose_nothing_of_the_CLR()
    {
        var run = _h.Run("reflect.js", """
            import { loadModel, log } from "peft";
            try { loadModel("/etc"); } catch (e) {
              log("error own:", Object.getOwnPropertyNames(e).sort().join(","));
              log("error clr:", ["GetType", "InnerException", "TargetSite", "HResult", "clrException", "Source"].map((k) => typeof e[k]).join(","));
              log("error proto:", Object.getPrototypeOf(e) === Error.prototype);
            }
            log("function own:", Object.getOwnPropertyNames(loadModel).sort().join(","));
            log("function clr:", ["Method", "Target", "GetType", "Invoke", "DynamicInvoke"].map((k) => typeof loadModel[k]).join(","));
            log("function proto:", Object.getPrototypeOf(loadModel) === Function.prototype);
            log("globals:", Object.getOwnPropertyNames(globalThis).sort().join(","));
            """);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("error own: message,stack", run.Out.Replace("error own: message\n", "error own: message,stack\n"));
        Assert.Contains("error clr: undefined,undefined,undefined,undefined,undefined,undefined", run.Out);
        Assert.Contains("error proto: true", run.Out);
        Assert.Contains("function own: length,name", run.Out);
        Assert.Contains("function clr: undefined,undefined,undefined,undefined,undefined", run.Out);
        Assert.Contains("function proto: true", run.Out);

        // Only the ECMAScript globals and console: nothing a host added by accident.
        string[] standard =
        [
            "AggregateError", "Array", "ArrayBuffer", "AsyncDisposableStack", "AsyncIterator", "Atomics", "BigInt", "BigInt64Array", "BigUint64Array",
            "Boolean", "DataView", "Date", "DisposableStack", "Error", "EvalError", "FinalizationRegistry", "Float16Array", "Float32Array",
            "Float64Array", "Function", "Generator", "Infinity", "Int16Array", "Int32Array", "Int8Array", "Intl", "Iterator", "JSON", "Map", "Math",
            "NaN", "Number", "Object", "Promise", "Proxy", "RangeError", "ReferenceError", "Reflect", "RegExp", "Set", "ShadowRealm",
            "SharedArrayBuffer", "String", "SuppressedError", "Symbol", "SyntaxError", "Temporal", "TypeError", "TypedArray", "URIError",
            "Uint16Array", "Uint32Array", "Uint8Array", "Uint8ClampedArray", "WeakMap", "WeakRef", "WeakSet", "console", "decodeURI",
            "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "eval", "globalThis", "isFinite", "isNaN", "parseFloat",
            "parseInt", "toString", "undefined", "unescape",
        ];
        var globals = run.Out.Split('\n').Single(l => l.StartsWith("globals: ")).Substring("globals: ".Length).Trim().Split(',');
        Assert.Empty(globals.Except(standard));
    }

    [Fact]
    public void A_link_planted_in_the_output_folder_cannot_carry_writes_out()
    {
        string outside = Path.Combine(_h.Folder, "outside");
        Directory.CreateDirectory(outside);
        Directory.CreateDirectory(_h.Output);
        Directory.CreateSymbolicLink(Path.Combine(_h.Output, "evil"), outside);
        var run = _h.Run("write.js", """
            import { plot, loadModel, getPeftModel, saveAdapter, log } from "peft";
            for (const attempt of [
              () => plot([1, 2, 3], { file: "evil/loss.png" }),
              () => saveAdapter(getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2 }), "evil/adapter"),
            ]) {
              try { attempt(); log("WROTE"); } catch (e) { log("refused: " + e.message); }
            }
            """);
        Assert.True(run.Code == 0, run.Err);
        Assert.DoesNotContain("WROTE", run.Out);
        Assert.Equal(2, run.Out.Split('\n').Count(l => l.StartsWith("refused: ") && l.Contains("symbolic link")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
    }

    [Theory]
    [InlineData("models/stories260k\\u0000/../../../../etc", "NUL")]
    [InlineData("file:///etc", "outside the folders a recipe may read")]
    [InlineData("~/", "outside the folders a recipe may read")]
    [InlineData("/proc/self/root/etc", "outside the folders a recipe may read")]
    [InlineData("/proc/self/fd/0", "outside the folders a recipe may read")]
    [InlineData("models/stories260k/./../../host", "climbs out of the folders a recipe may read")]
    public void Odd_paths_are_refused_at_the_call(string path, string message)
    {
        var run = _h.Run("odd.js", $$"""
            import { loadTokenizer } from "peft";
            loadTokenizer("{{path}}");
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "odd.js", 2, 1, message);
    }

    [Fact]
    public void A_dotnet_assembly_cannot_be_imported_or_loaded()
    {
        string dll = Path.Combine(_h.Folder, "evil.dll");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Microsoft.VisualStudio.CodeCoverage.Shim.dll"), dll);
        foreach (var specifier in new[] { "./evil.dll", "System.IO", "clr:System", "data:text/javascript,export default 1" })
        {
            var run = _h.Run("load.js", $$"""
                const m = await import("{{specifier}}");
                """);
            Assert.Equal(PeftCli.Failure, run.Code);
            Assert.Matches(specifier.StartsWith("./") ? @"^\S*evil\.dll:1:\d+: SyntaxError" : @"^\S*load\.js:1:\d+: Error: cannot import", run.Err);
        }
        Assert.DoesNotContain(AssemblyLoadContext.All.SelectMany(c => c.Assemblies), a => !a.IsDynamic && a.Location == dll);
    }

    [Theory]
    [InlineData("new Array(100000).fill(\"x\".repeat(10000)).join(\"\")", "memory limit reached")]
    [InlineData("JSON.stringify(new Array(500000).fill(\"y\".repeat(1000)))", "memory limit reached")]
    [InlineData("\"x\".repeat(2 ** 30)", "RangeError: Invalid string length")]
    [InlineData("\"x\".padEnd(2 ** 30)", "RangeError: Invalid string length")]
    [InlineData("new Uint8Array(2 ** 31 - 1)", "RangeError")]
    [InlineData("new ArrayBuffer(2 ** 32)", "RangeError")]
    [InlineData("Array.from({ length: 2 ** 27 })", "memory limit reached")]
    public void One_call_that_amplifies_memory_ends_in_a_clean_error_and_a_bounded_peak(string expression, string message)
    {
        ProcessMemory.ResetPeak();
        long before = Environment.WorkingSet;
        var run = _h.Run("amplify.js", $"const r = {expression};\n", "--max-memory", "64");
        long peak = ProcessMemory.PeakResidentBytes() - before;
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains(message, run.Err);
        Assert.Matches(@"^\S*amplify\.js(:\d+:\d+)?: ", run.Err); // Jint reports an over-large array without a position: the file, at least
        // The budget is checked after a native call returns: one call may overshoot it, but boundedly.
        Assert.True(peak < 1L << 30, $"resident memory peaked {peak >> 20} MiB above its start");
        ReliabilityLog.Record("recipes", $"{expression} with --max-memory 64: exit 1, \"{run.Err.Split('\n')[0]}\", resident peak +{Math.Max(0, peak) >> 20} MiB");
    }

    [Fact]
    public void A_catastrophic_regular_expression_stops_at_the_time_limit()
    {
        var clock = Stopwatch.StartNew();
        var run = _h.Run("redos.js", """
            const r = /(a+)+$/.test("a".repeat(40) + "b");
            """, "--timeout", "1");
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Matches(@"^\S*redos\.js:1:\d+: ", run.Err);
        Assert.Contains("timed out", run.Err);
        Assert.DoesNotContain("Exception", run.Err.Split('\n')[0]);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed.TotalSeconds:F1} s with --timeout 1");
    }
}
