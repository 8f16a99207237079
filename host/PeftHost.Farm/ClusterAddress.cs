using System.Security.Cryptography;
using System.Text;

namespace PeftHost.Farm;

/// <summary>
/// Where a farm's members meet: <c>redis://[:PASSWORD@]HOST:PORT</c>, the Redis server that holds the Orleans
/// membership table and the queue's state, and the cluster key every member must know. The key names the cluster
/// (its Orleans cluster id is derived from the key's hash), so a silo or client started without it joins a
/// different, empty cluster and cannot take or submit jobs; see docs/FARM.md for what it does not protect against.
/// </summary>
public sealed record ClusterAddress
{
    /// <summary>The environment variable that carries the cluster key when <c>--cluster-key</c> is not given.</summary>
    public const string KeyVariable = "PEFT_FARM_KEY";

    /// <summary>The Redis host.</summary>
    public required string Host { get; init; }

    /// <summary>The Redis port.</summary>
    public required int Port { get; init; }

    /// <summary>The Redis password (<c>AUTH</c>), when the URL has one.</summary>
    public string? Password { get; init; }

    /// <summary>StackExchange.Redis's connection string for this address.</summary>
    public string ConnectionString => $"{Host}:{Port}" + (Password is null ? "" : $",password={Password}");

    /// <summary>Parses <c>redis://[:PASSWORD@]HOST:PORT</c>.</summary>
    /// <exception cref="ArgumentException">Not such a URL (the message says what is wrong).</exception>
    public static ClusterAddress Parse(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "redis")
            throw new ArgumentException($"expected redis://HOST:PORT, got '{text}'");
        if (uri.Port <= 0) throw new ArgumentException($"'{text}' names no port (redis://HOST:PORT)");
        if (uri.AbsolutePath is not ("" or "/")) throw new ArgumentException($"'{text}': a database path is not supported (redis://HOST:PORT)");
        string? password = uri.UserInfo.Length == 0 ? null : Uri.UnescapeDataString(uri.UserInfo.TrimStart(':'));
        return new ClusterAddress { Host = uri.Host, Port = uri.Port, Password = password };
    }

    /// <summary>The Orleans cluster id of the cluster keyed by <paramref name="key"/>: <c>peft-</c> and 16 hex digits of its SHA-256.</summary>
    public static string ClusterIdFor(string key)
    {
        if (key.Length < 16) throw new ArgumentException($"a cluster key must be at least 16 characters (got {key.Length}); `openssl rand -hex 16` makes one");
        return "peft-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("peft farm cluster key\n" + key)))[..16];
    }
}
