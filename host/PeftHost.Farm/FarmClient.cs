using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace PeftHost.Farm;

/// <summary>An Orleans client of a Redis-clustered farm: how <c>peft sweep --cluster</c> submits without running a silo itself.</summary>
public sealed class FarmClient : IAsyncDisposable
{
    private readonly IHost _host;

    private FarmClient(IHost host) => _host = host;

    /// <summary>The cluster's grains.</summary>
    public IGrainFactory Grains => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>How long connecting may take by default before the farm is reported unreachable (measured: about 20 s on a loaded machine).</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Connects to the farm at <paramref name="cluster"/> keyed by <paramref name="key"/>.</summary>
    /// <exception cref="IOException">No silo of that farm answered within <paramref name="timeout"/>.</exception>
    public static async Task<FarmClient> ConnectAsync(ClusterAddress cluster, string key, FarmTls? tls, TimeSpan timeout, CancellationToken cancellation = default)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(cluster.ConnectionString);
            client.Configure<ClusterOptions>(o => o.ClusterId = o.ServiceId = ClusterAddress.ClusterIdFor(key));
            tls?.Apply(client);
        });
        var host = builder.Build();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(timeout);
        try { await host.StartAsync(limit.Token); }
        catch (Exception e) when (!cancellation.IsCancellationRequested)
        {
            host.Dispose();
            string how = tls is null ? "without TLS" : $"with the TLS certificate {tls.Source}";
            throw new IOException($"no silo of the farm at redis://{cluster.Host}:{cluster.Port} answered within {timeout.TotalSeconds:F0} s {how} "
                + $"({e.GetType().Name}: {e.Message}); is `peft farm` running there with the same cluster key and the same --tls-cert?", e);
        }
        catch { host.Dispose(); throw; }
        return new FarmClient(host);
    }

    /// <summary>Connects to the farm's Redis itself (shipped jobs' blobs and output lists live there).</summary>
    /// <exception cref="IOException">Redis did not answer.</exception>
    public static async Task<StackExchange.Redis.ConnectionMultiplexer> ConnectRedisAsync(ClusterAddress cluster)
    {
        try { return await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(Shipping.BlobStore.ConnectionOptions(cluster.ConnectionString)); }
        catch (StackExchange.Redis.RedisException e)
        {
            throw new IOException($"could not reach the farm's Redis at {cluster.Host}:{cluster.Port} to ship the jobs' files: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try { await _host.StopAsync(TimeSpan.FromSeconds(5)); }
        finally { _host.Dispose(); }
    }
}
