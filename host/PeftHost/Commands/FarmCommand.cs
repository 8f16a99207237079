using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using PeftHost.Farm;

namespace PeftHost.Cli.Commands;

/// <summary>
/// <c>peft farm [--cluster redis://HOST:PORT] [--cluster-key KEY] [--tls-cert FILE] [--work-dir DIR] [--slots N] [--address IP] [--port N] [--gateway-port N]</c>:
/// a silo of a run farm. It joins the cluster whose membership is in the Redis server, runs the jobs that
/// <c>peft sweep --cluster</c> submits (one at a time by default) and keeps running until Ctrl-C or SIGTERM.
/// </summary>
public static class FarmCommand
{
    /// <summary>The Redis a farm uses when <c>--cluster</c> is not given.</summary>
    public const string DefaultCluster = "redis://127.0.0.1:6379";

    /// <summary>Builds the command; <paramref name="cancellation"/> stands in for Ctrl-C (for tests and hosts).</summary>
    public static Command Create(CancellationToken cancellation = default)
    {
        var cluster = FarmOptions.Cluster($"The Redis server where the farm's silos meet (default {DefaultCluster})");
        var key = FarmOptions.ClusterKey();
        var slots = new Option<int>("--slots") { Description = "Jobs this silo runs at once (default 1: a training job uses every core)", DefaultValueFactory = _ => 1 }.Positive();
        var address = new Option<string>("--address") { Description = "The address other silos and submitters reach this one at (default 127.0.0.1)", DefaultValueFactory = _ => "127.0.0.1" }
            .Check(a => OptionRules.Require(IPAddress.TryParse(a, out _), $"must be an IP address, got '{a}'"));
        var port = new Option<int>("--port") { Description = "The silo-to-silo port (default: a free one)" }
            .Check(p => OptionRules.Require(p is >= 0 and <= 65535, $"must be a port number, got {p}"));
        var gateway = new Option<int>("--gateway-port") { Description = "The port submitters connect to (default: a free one)" }
            .Check(p => OptionRules.Require(p is >= 0 and <= 65535, $"must be a port number, got {p}"));
        var workDir = new Option<string?>("--work-dir")
        {
            Description = $"This silo's folder for shipped jobs: its blob cache and the running jobs' files (default {FarmSiloOptions.DefaultWorkFolder})",
            HelpName = "DIR",
        };
        var tls = FarmOptions.Tls();
        var plugins = PluginsCommand.PluginDirectories();

        var command = new Command("farm", "Run a silo of a run farm: it takes recipe jobs that `peft sweep --cluster` submits")
        {
            cluster, key, slots, address, port, gateway, workDir, plugins,
        };
        foreach (var option in tls.All) command.Options.Add(option);
        command.SetAction(CommandAction.Of((parse, stdout) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            var clusterAddress = ClusterAddress.Parse(parse.GetValue(cluster) ?? DefaultCluster);
            void Log(string line) { lock (stderr) { stderr.WriteLine(line); stderr.Flush(); } }
            var options = new FarmSiloOptions
            {
                Cluster = clusterAddress,
                ClusterKey = FarmOptions.KeyOf(parse, key),
                Tls = tls.Load(parse),
                WorkFolder = Path.GetFullPath(parse.GetValue(workDir) ?? FarmSiloOptions.DefaultWorkFolder),
                Slots = parse.GetValue(slots),
                AdvertisedAddress = parse.GetValue(address)!,
                SiloPort = parse.GetValue(port),
                GatewayPort = parse.GetValue(gateway),
                PluginDirectories = parse.GetValue(plugins) ?? [],
                Log = Log,
            };
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            Run(options, clusterAddress, Log, stop.Token).GetAwaiter().GetResult();
            return 0;
        }));
        return command;
    }

    private static async Task Run(FarmSiloOptions options, ClusterAddress cluster, Action<string> log, CancellationToken stop)
    {
        await using var silo = await FarmSilo.StartAsync(options, stop);
        string tls = options.Tls is null ? "no TLS" : $"TLS with certificate {options.Tls.Fingerprint[..16]}…";
        log($"[farm] silo {Environment.MachineName}:{Environment.ProcessId} joined the farm at {cluster.Host}:{cluster.Port} with {options.Slots} slot(s), {tls}; Ctrl-C leaves");
        await silo.RunUntilAsync(stop);
        log("[farm] leaving the farm");
    }
}
