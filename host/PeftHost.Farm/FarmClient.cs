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

    /// <summary>Connects to the farm at <paramref name="cluster"/> keyed by <paramref name="key"/>.</summary>
    public static async Task<FarmClient> ConnectAsync(ClusterAddress cluster, string key, CancellationToken cancellation = default)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(cluster.ConnectionString);
            client.Configure<ClusterOptions>(o => { o.ClusterId = ClusterAddress.ClusterIdFor(key); o.ServiceId = FarmSilo.ServiceId; });
        });
        var host = builder.Build();
        try { await host.StartAsync(cancellation); }
        catch { host.Dispose(); throw; }
        return new FarmClient(host);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try { await _host.StopAsync(TimeSpan.FromSeconds(5)); }
        finally { _host.Dispose(); }
    }
}
