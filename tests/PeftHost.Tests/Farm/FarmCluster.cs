using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PeftHost.Tests.Reliability.Support;

namespace PeftHost.Tests.Farm;

/// <summary>
/// A real farm on this machine: <c>redis-server</c> on a free loopback port (no persistence) and <c>peft farm</c>
/// silo processes keyed by a fresh cluster key. Everything is killed at dispose.
/// </summary>
public sealed class FarmCluster : IDisposable
{
    /// <summary>Where Debian installs Redis (.ci/run installs it when missing).</summary>
    public const string RedisServer = "/usr/bin/redis-server";

    private readonly Process _redis;
    private readonly List<PeftProcess> _silos = [];
    private readonly Dictionary<int, string> _work = [];
    private readonly string _folder = Directory.CreateTempSubdirectory("peft-farm-").FullName;

    /// <summary>The <c>--cluster</c> value.</summary>
    public string Address { get; }

    /// <summary>The <c>--cluster-key</c> value.</summary>
    public string Key { get; } = Guid.NewGuid().ToString("N");

    /// <summary>One thread per silo for libtorch: three silos share this machine's cores (OpenMP's spinning threads
    /// oversubscribed otherwise slow each job many times over).</summary>
    public static readonly IReadOnlyDictionary<string, string> OneThread = new Dictionary<string, string> { ["OMP_NUM_THREADS"] = "1" };

    public IReadOnlyList<PeftProcess> Silos => _silos;

    public FarmCluster()
    {
        int port = FreePort();
        Address = $"redis://127.0.0.1:{port}";
        var start = new ProcessStartInfo(RedisServer) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }) start.ArgumentList.Add(a);
        _redis = Process.Start(start)!;
        _redis.BeginOutputReadLine();
        _redis.BeginErrorReadLine();
        var until = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try { using var probe = new TcpClient(); probe.Connect(IPAddress.Loopback, port); break; }
            catch (SocketException) when (DateTime.UtcNow < until) { Thread.Sleep(100); }
        }
    }

    /// <summary>
    /// Starts <paramref name="count"/> silos (with <paramref name="extra"/> options) and waits until each has joined.
    /// Each has a work folder of its own (<see cref="WorkFolder"/>): shipped jobs never see the submitter's paths.
    /// </summary>
    public void StartSilos(int count, TimeSpan limit, params string[] extra)
    {
        var started = Enumerable.Range(0, count).Select(_ => StartSilo(extra)).ToList();
        var until = DateTime.UtcNow + limit;
        while (!started.All(s => s.Stderr.Contains("joined the farm")))
        {
            if (started.FirstOrDefault(s => s.HasExited) is { } dead) Assert.Fail($"a silo ended (exit {dead.ExitCode}):\n{dead.Stderr}");
            if (DateTime.UtcNow > until) Assert.Fail($"the silos did not join within {limit.TotalSeconds:F0} s:\n{string.Join("\n---\n", started.Select(s => s.Stderr))}");
            Thread.Sleep(200);
        }
    }

    /// <summary>Starts one more silo and returns it without waiting for it to join.</summary>
    public PeftProcess StartSilo(params string[] extra)
    {
        string work = Path.Combine(_folder, $"silo{_silos.Count}");
        var silo = PeftProcess.Start(["farm", "--cluster", Address, "--cluster-key", Key, "--work-dir", work, .. extra], OneThread);
        _silos.Add(silo);
        _work[silo.Id] = work;
        return silo;
    }

    /// <summary>The work folder (<c>--work-dir</c>) of the silo whose process id is <paramref name="pid"/>.</summary>
    public string WorkFolder(int pid) => _work[pid];

    /// <summary>The silo whose process id is <paramref name="pid"/>.</summary>
    public PeftProcess Silo(int pid) => _silos.Single(s => s.Id == pid);

    public void Dispose()
    {
        foreach (var silo in _silos) silo.Dispose();
        try { _redis.Kill(); _redis.WaitForExit(5000); } catch (InvalidOperationException) { }
        _redis.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
