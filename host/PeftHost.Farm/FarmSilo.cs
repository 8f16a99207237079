using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using PeftHost.Core.Plugins;
using PeftHost.Farm.Shipping;
using StackExchange.Redis;

namespace PeftHost.Farm;

/// <summary>
/// A started silo: the Orleans host with the job queue grain and this process's <see cref="FarmWorker"/> slots.
/// Embedded (no cluster): localhost clustering on free ports and in-memory state, for <c>peft sweep</c> on one
/// machine. Clustered: Redis membership and Redis grain storage, for <c>peft farm</c>, with TLS when configured and
/// the blob store and cache that shipped jobs need.
/// </summary>
public sealed class FarmSilo : IAsyncDisposable
{
    /// <summary>The grain storage that holds the queue.</summary>
    public const string StorageName = "farm";

    private readonly IHost _host;
    private readonly PluginHost _plugins;

    private FarmSilo(IHost host, PluginHost plugins)
    {
        _host = host;
        _plugins = plugins;
    }

    /// <summary>Submits and follows jobs through this silo (in process, no gateway hop).</summary>
    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>Starts a silo with <paramref name="options"/>; returns once it has joined its cluster.</summary>
    public static async Task<FarmSilo> StartAsync(FarmSiloOptions options, CancellationToken cancellation = default)
    {
        var plugins = new PluginHost(new PluginHostOptions { PluginDirectories = options.PluginDirectories, WatchForChanges = false });
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(plugins);
        builder.Services.AddSingleton<JobExecutor>();
        builder.UseOrleans(silo =>
        {
            int siloPort = options.SiloPort == 0 ? FreePort() : options.SiloPort;
            int gatewayPort = options.GatewayPort == 0 ? FreePort() : options.GatewayPort;
            if (options.Cluster is { } cluster)
            {
                string key = options.ClusterKey ?? throw new ArgumentException($"a cluster needs its key (--cluster-key or {ClusterAddress.KeyVariable})");
                silo.UseRedisClustering(cluster.ConnectionString);
                // Shipped jobs: blobs and output lists in the same Redis, a cache in this silo's work folder.
                builder.Services.AddSingleton(_ => new BlobStore(ConnectionMultiplexer.Connect(BlobStore.ConnectionOptions(cluster.ConnectionString)).GetDatabase(), ClusterAddress.ClusterIdFor(key)));
                builder.Services.AddSingleton<BlobCache>();
                builder.Services.AddSingleton<JobShipping>();
                silo.AddRedisGrainStorage(StorageName, o => o.ConfigurationOptions = ConfigurationOptions.Parse(cluster.ConnectionString));
                silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), siloPort, gatewayPort, listenOnAnyHostAddress: options.AdvertisedAddress != "127.0.0.1");
                // The key names both the cluster and the service: Redis keeps membership and grain state under them, so
                // members keyed differently neither meet nor see each other's queue.
                silo.Configure<ClusterOptions>(o => o.ClusterId = o.ServiceId = ClusterAddress.ClusterIdFor(key));
                options.Tls?.Apply(silo);
                // A killed silo is declared dead within seconds (the defaults take about a minute), so its queue grain and jobs move on sooner.
                silo.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = TimeSpan.FromSeconds(2);
                    o.NumMissedProbesLimit = 2;
                    o.NumVotesForDeathDeclaration = 1;
                });
            }
            else
            {
                silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: "peft-embedded", clusterId: $"peft-embedded-{Environment.ProcessId}-{siloPort}");
                silo.AddMemoryGrainStorage(StorageName);
            }
        });
        builder.Services.AddHostedService<FarmWorker>();
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellation);
        }
        catch (Exception e) when (options.Cluster is { } cluster && !cancellation.IsCancellationRequested)
        {
            host.Dispose();
            plugins.Dispose();
            string tls = options.Tls is null ? "without TLS" : $"with the TLS certificate {options.Tls.Source}";
            throw new IOException($"could not join the farm at redis://{cluster.Host}:{cluster.Port} ({tls}): {e.Message}; "
                + "every member needs the same cluster key and the same --tls-cert", e);
        }
        catch
        {
            host.Dispose();
            plugins.Dispose();
            throw;
        }
        return new FarmSilo(host, plugins);
    }

    /// <summary>Runs until <paramref name="cancellation"/> (Ctrl-C), then leaves the cluster.</summary>
    public async Task RunUntilAsync(CancellationToken cancellation)
    {
        try { await Task.Delay(Timeout.Infinite, cancellation); }
        catch (OperationCanceledException) { }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try { await _host.StopAsync(TimeSpan.FromSeconds(10)); }
        finally
        {
            _host.Dispose();
            _plugins.Dispose();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
