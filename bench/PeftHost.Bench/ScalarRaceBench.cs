using System.Diagnostics;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Bench;

/// <summary>
/// Measures the TorchSharp 0.107 race behind CI's rare "Expected false to be true … toFloat"
/// failures: TorchSharp's own addition with the runtime's gen0 budget and with the tests' larger one,
/// and PeftHost's <see cref="TensorArithmetic.Plus(Tensor, Tensor)"/>, which holds its Scalar.
/// </summary>
/// <remarks>
/// <c>Tensor.add(Tensor)</c> calls <c>add(other, 1)</c>: the <c>1</c> becomes a temporary
/// <c>Scalar</c> whose native handle is passed to libtorch with nothing keeping the managed object
/// alive. A garbage collection started by another thread during that native call finds it
/// unreachable, and the finalizer thread may free the native scalar before libtorch reads it.
/// (Upstream: dotnet/TorchSharp pull requests 1434 and 1496, open and not released.) Every
/// operator taking a C# number has the same window. PeftHost's own code never lets TorchSharp make
/// such a Scalar (<see cref="TensorArithmetic"/>); the test host, whose test code does, makes
/// collections rarer (<c>DOTNET_GCgen0size</c>, read only from the environment). This suite counts
/// the failures each way, in child processes, while a second thread allocates.
/// </remarks>
public static class ScalarRaceBench
{
    private const int Operations = 2_000_000;
    private const string Gen0Variable = "DOTNET_GCgen0size";

    public static SuiteResult Run(MachineInfo machine)
    {
        var rows = new List<string>
        {
            "| addition | gen0 budget | additions | failed additions | gen0 collections | seconds |",
            "|---|---|---:|---:|---:|---:|",
        };
        var runs = new[]
        {
            ("TorchSharp's `x.add(y)` (alpha 1 made for the call)", "runtime default", (string?)null, "operator"),
            ("TorchSharp's `x.add(y)` (alpha 1 made for the call)", "0x10000000 (256 MiB), as the tests run", "0x10000000", "operator"),
            ("PeftHost's `x.Plus(y)` (alpha 1 held)", "runtime default", null, "held"),
        };
        foreach (var (addition, label, value, how) in runs)
        {
            var r = ChildProcess.Run(new Dictionary<string, string?> { [Gen0Variable] = value }, "scalar-race", Operations.ToString(), how);
            rows.Add($"| {addition} | {label} | {Operations:N0} | {r.GetProperty("failures").GetInt32()} | {r.GetProperty("gen0").GetInt32()} | {r.GetProperty("seconds").GetDouble():F1} |");
        }
        return SuiteResult.Text(
            "`Tensor.add` on two 64-float tensors in a loop on one thread while a second thread allocates 1 KB " +
            "arrays without pause (the load a recipe's parallel jobs or the dashboard add). A failed addition is " +
            "libtorch reading a Scalar the finalizer already freed.\n\n" + string.Join("\n", rows) + "\n");
    }

    /// <summary>Child: <paramref name="operations"/> additions while another thread allocates, TorchSharp's or <paramref name="held"/>.</summary>
    public static void Child(int operations, bool held)
    {
        bool stop = false;
        var allocator = new Thread(() =>
        {
            while (!Volatile.Read(ref stop)) GC.KeepAlive(new byte[1000]);
        }) { IsBackground = true };
        using var x = ones(64);
        using var y = ones(64);
        int failures = 0;
        int gen0Before = GC.CollectionCount(0);
        var clock = Stopwatch.StartNew();
        allocator.Start();
        for (int i = 0; i < operations; i++)
        {
            try
            {
                using var sum = held ? x.Plus(y) : x.add(y);
            }
            catch (System.Runtime.InteropServices.ExternalException)
            {
                failures++;
            }
        }
        Volatile.Write(ref stop, true);
        ChildProcess.Report(new { failures, gen0 = GC.CollectionCount(0) - gen0Before, seconds = clock.Elapsed.TotalSeconds });
    }
}
