namespace PeftHost.Farm;

/// <summary>How to start a silo: alone in this process (embedded) or as a member of a Redis-clustered farm.</summary>
public sealed record FarmSiloOptions
{
    /// <summary>The cluster to join; null: an embedded silo (localhost clustering, in-memory state) that only this process uses.</summary>
    public ClusterAddress? Cluster { get; init; }

    /// <summary>The cluster key (required with <see cref="Cluster"/>).</summary>
    public string? ClusterKey { get; init; }

    /// <summary>TLS with the farm's shared certificate on every connection (cluster mode); null: plain TCP.</summary>
    public FarmTls? Tls { get; init; }

    /// <summary>Jobs this silo runs at once (a training job uses every core, so 1 by default).</summary>
    public int Slots { get; init; } = 1;

    /// <summary>Extra plugin folders, as <c>peft run --plugins</c>.</summary>
    public IReadOnlyList<string> PluginDirectories { get; init; } = [];

    /// <summary>The address other silos and clients reach this one at (cluster mode; default 127.0.0.1).</summary>
    public string AdvertisedAddress { get; init; } = "127.0.0.1";

    /// <summary>The silo-to-silo port; 0 picks a free one.</summary>
    public int SiloPort { get; init; }

    /// <summary>The port clients submit through; 0 picks a free one.</summary>
    public int GatewayPort { get; init; }

    /// <summary>
    /// The silo's own folder for shipped jobs: <c>blobs/</c> (the content-addressed cache) and <c>jobs/</c> (each
    /// running job's recipe, workspace and outputs). Default <c>~/.cache/peft/farm</c>.
    /// </summary>
    public string WorkFolder { get; init; } = DefaultWorkFolder;

    /// <summary><c>~/.cache/peft/farm</c> (XDG_CACHE_HOME when set).</summary>
    public static string DefaultWorkFolder =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "peft", "farm");

    /// <summary>Where the silo reports what its slots do (a line at a time); null: silent.</summary>
    public Action<string>? Log { get; init; }
}
