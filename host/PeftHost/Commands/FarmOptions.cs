using System.CommandLine;
using PeftHost.Farm;

namespace PeftHost.Cli.Commands;

/// <summary>The options <c>peft farm</c> and <c>peft sweep</c> share: the cluster and its key.</summary>
public static class FarmOptions
{
    /// <summary><c>--cluster redis://[:PASSWORD@]HOST:PORT</c>.</summary>
    public static Option<string?> Cluster(string description) => new Option<string?>("--cluster") { Description = description, HelpName = "redis://HOST:PORT" }
        .Check(c => { if (c is not null) ClusterAddress.Parse(c); });

    /// <summary><c>--cluster-key KEY</c> (default: the <c>PEFT_FARM_KEY</c> environment variable).</summary>
    public static Option<string?> ClusterKey() => new Option<string?>("--cluster-key")
    {
        Description = $"The cluster's shared secret, at least 16 characters, the same on every silo and submitter (default: ${ClusterAddress.KeyVariable})",
    }.Check(k => { if (k is not null) ClusterAddress.ClusterIdFor(k); });

    /// <summary>The key given, else the environment's; an error naming both when neither is there.</summary>
    public static string KeyOf(ParseResult parse, Option<string?> option)
    {
        string key = parse.GetValue(option) ?? Environment.GetEnvironmentVariable(ClusterAddress.KeyVariable)
            ?? throw new ArgumentException($"a cluster needs its key: --cluster-key KEY or {ClusterAddress.KeyVariable}");
        ClusterAddress.ClusterIdFor(key); // checks its length
        return key;
    }
}
