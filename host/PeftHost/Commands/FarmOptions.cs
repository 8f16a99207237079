using System.CommandLine;
using PeftHost.Farm;

namespace PeftHost.Cli.Commands;

/// <summary>The options <c>peft farm</c> and <c>peft sweep</c> share: the cluster, its key and its TLS certificate.</summary>
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

    /// <summary><c>--tls-cert FILE</c>, <c>--tls-key FILE</c> and <c>--tls-password TEXT</c>: the farm's shared certificate.</summary>
    public sealed record TlsOptions(Option<string?> Certificate, Option<string?> Key, Option<string?> Password)
    {
        /// <summary>The three options, to add to a command.</summary>
        public IEnumerable<Option> All => [Certificate, Key, Password];

        /// <summary>The certificate given, loaded; null without <c>--tls-cert</c>.</summary>
        public FarmTls? Load(ParseResult parse)
        {
            string? certificate = parse.GetValue(Certificate);
            if (certificate is null)
            {
                if (parse.GetValue(Key) is not null || parse.GetValue(Password) is not null)
                    throw new ArgumentException("--tls-key and --tls-password go with --tls-cert");
                return null;
            }
            return FarmTls.Load(Path.GetFullPath(certificate), parse.GetValue(Key) is { } key ? Path.GetFullPath(key) : null,
                parse.GetValue(Password) ?? Environment.GetEnvironmentVariable(FarmTls.PasswordVariable));
        }
    }

    /// <summary>The TLS options.</summary>
    public static TlsOptions Tls() => new(
        new Option<string?>("--tls-cert") { Description = "TLS on every farm connection with this certificate, the same file on every silo and submitter (.pfx, or PEM with --tls-key); members without it are refused", HelpName = "FILE" },
        new Option<string?>("--tls-key") { Description = "The PEM private key of a PEM --tls-cert", HelpName = "FILE" },
        new Option<string?>("--tls-password") { Description = $"The password of a .pfx --tls-cert (default: ${FarmTls.PasswordVariable})" });
}
