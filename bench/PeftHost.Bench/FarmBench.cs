using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace PeftHost.Bench;

/// <summary>
/// The run farm's own cost (docs/FARM.md): a sweep of no-op recipe jobs (one <c>log</c> line each) through
/// <c>peft sweep</c> on an embedded silo, and on a Redis cluster of 1 and 3 <c>peft farm</c> processes. Measured from
/// the submitter's "jobs submitted" line to its exit: jobs per minute, and the scheduling overhead per job — the
/// slot time not spent inside the recipe (queue round trips, lease polling, the sandbox's start and the job's
/// folder), divided by the jobs. Needs the built <c>peft</c> (host/PeftHost, Release) and /usr/bin/redis-server.
/// </summary>
public static class FarmBench
{
    private const int Jobs = 30;
    private const string NoOp = "import { defineParams, log } from \"peft\";\nconst p = defineParams({ i: 0 });\nlog(`job ${p.i}`);\n";

    /// <summary>Runs the suite.</summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        string peft = Path.Combine(RepoPaths.Root, "host", "PeftHost", "bin", "Release", "net10.0", "linux-x64", "peft");
        if (!File.Exists(peft)) throw new FileNotFoundException($"{peft} is missing: dotnet build host/PeftHost -c Release");
        string folder = Path.Combine(Path.GetTempPath(), "pefthost-bench-farm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string recipe = Path.Combine(folder, "noop.js");
            File.WriteAllText(recipe, NoOp);
            var rows = new List<(string Setup, Measurement M)> { ("embedded silo (in the submitter)", Sweep(peft, recipe, folder, "embedded", null, null, slots: 1)) };
            foreach (int silos in new[] { 1, 3 })
            {
                using var redis = RedisServer.Start();
                string key = Guid.NewGuid().ToString("N");
                var farm = Enumerable.Range(0, silos).Select(_ => Background.Start(peft, ["farm", "--cluster", redis.Address, "--cluster-key", key])).ToList();
                try
                {
                    foreach (var silo in farm) silo.WaitFor("joined the farm", TimeSpan.FromMinutes(2));
                    // Both ways a cluster job reaches its files: paths every silo shares, and inputs and outputs shipped
                    // by content hash through Redis (the default with --cluster).
                    rows.Add(($"{silos} × peft farm (Redis, --shared-storage)", Sweep(peft, recipe, folder, $"silos{silos}-shared", redis.Address, key, silos, shared: true)));
                    rows.Add(($"{silos} × peft farm (Redis, shipped)", Sweep(peft, recipe, folder, $"silos{silos}-shipped", redis.Address, key, silos, shared: false)));
                }
                finally { foreach (var silo in farm) silo.Dispose(); }
            }
            var md = new StringBuilder();
            md.AppendLine($"{Jobs} no-op jobs (`log` one line) per sweep; the time from submission to the last result. Overhead per job: (elapsed × slots − time inside the recipes) / jobs.");
            md.AppendLine();
            md.AppendLine("| setup | elapsed (s) | jobs/minute | recipe time per job (ms) | scheduling overhead per job (ms) |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var (setup, m) in rows)
                md.AppendLine($"| {setup} | {Measure.F(m.Elapsed, "F2")} | {Measure.F(Jobs / m.Elapsed * 60, "F0")} | {Measure.F(m.RecipeSeconds / Jobs * 1000, "F0")} | {Measure.F(m.OverheadPerJob * 1000, "F0")} |");
            return SuiteResult.Text(md.ToString());
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private sealed record Measurement(double Elapsed, double RecipeSeconds, double OverheadPerJob);

    private static Measurement Sweep(string peft, string recipe, string folder, string name, string? cluster, string? key, int slots, bool shared = false)
    {
        string output = Path.Combine(folder, name);
        string[] args = ["sweep", recipe, "--grid", "i=" + string.Join(",", Enumerable.Range(1, Jobs)), "--out", output, "--workspace", folder,
            .. cluster is null ? Array.Empty<string>() : ["--cluster", cluster, "--cluster-key", key!],
            .. shared ? ["--shared-storage"] : Array.Empty<string>()];
        using var sweep = Background.Start(peft, args);
        var submitted = sweep.WaitFor(" jobs ", TimeSpan.FromMinutes(2)); // "[farm] N jobs on an embedded silo" / "submitted to the farm"
        sweep.WaitForExit(TimeSpan.FromMinutes(10));
        double elapsed = (sweep.Exited - submitted).TotalSeconds;
        var jobs = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "sweep.json")))!["jobs"]!.AsArray();
        if (jobs.Any(j => j!["state"]!.GetValue<string>() != "succeeded")) throw new InvalidOperationException($"{name}: a job failed:\n{sweep.Stderr}");
        double recipes = jobs.Sum(j => j!["seconds"]!.GetValue<double>());
        return new Measurement(elapsed, recipes, (elapsed * slots - recipes) / Jobs);
    }

    /// <summary>A <c>redis-server</c> on a free loopback port, without persistence, killed at dispose.</summary>
    private sealed class RedisServer : IDisposable
    {
        private readonly Process _process;

        private RedisServer(Process process, int port) { _process = process; Address = $"redis://127.0.0.1:{port}"; }

        public string Address { get; }

        public static RedisServer Start()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            var start = new ProcessStartInfo("/usr/bin/redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }) start.ArgumentList.Add(a);
            var process = Process.Start(start) ?? throw new InvalidOperationException("could not start /usr/bin/redis-server");
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            for (var until = DateTime.UtcNow.AddSeconds(20); ; Thread.Sleep(100))
            {
                try { using var probe = new TcpClient(); probe.Connect(IPAddress.Loopback, port); break; }
                catch (SocketException) when (DateTime.UtcNow < until) { }
            }
            return new RedisServer(process, port);
        }

        public void Dispose()
        {
            try { _process.Kill(); _process.WaitForExit(5000); } catch (InvalidOperationException) { }
            _process.Dispose();
        }
    }

    /// <summary>A <c>peft</c> process whose stderr lines are timestamped as they arrive.</summary>
    private sealed class Background : IDisposable
    {
        private readonly Process _process;
        private readonly List<(DateTime Time, string Line)> _lines = [];

        private Background(Process process)
        {
            _process = process;
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add((DateTime.UtcNow, e.Data)); };
            process.OutputDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
        }

        public DateTime Exited { get; private set; }

        public string Stderr { get { lock (_lines) return string.Join("\n", _lines.Select(l => l.Line)); } }

        public static Background Start(string file, IEnumerable<string> args)
        {
            var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) start.ArgumentList.Add(a);
            return new Background(Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}"));
        }

        /// <summary>When a stderr line containing <paramref name="text"/> arrived.</summary>
        public DateTime WaitFor(string text, TimeSpan limit)
        {
            for (var until = DateTime.UtcNow + limit; DateTime.UtcNow < until; Thread.Sleep(20))
            {
                lock (_lines)
                    if (_lines.FirstOrDefault(l => l.Line.Contains(text, StringComparison.Ordinal)) is { Line: not null } hit) return hit.Time;
                if (_process.HasExited) break;
            }
            throw new InvalidOperationException($"no '{text}' from peft within {limit}:\n{Stderr}");
        }

        public void WaitForExit(TimeSpan limit)
        {
            if (!_process.WaitForExit(limit)) throw new TimeoutException($"peft ran over {limit}:\n{Stderr}");
            Exited = DateTime.UtcNow;
            _process.WaitForExit();
            if (_process.ExitCode != 0) throw new InvalidOperationException($"peft exited {_process.ExitCode}:\n{Stderr}");
        }

        public void Dispose()
        {
            try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(10_000); } } catch (InvalidOperationException) { }
            _process.Dispose();
        }
    }
}
