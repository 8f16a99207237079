using PeftHost.Cli.Commands;

namespace PeftHost.Tests.Dashboard;

/// <summary><c>peft tui</c>'s farm options are <c>peft sweep</c>'s: a bad one is an error naming it, before any screen opens.</summary>
public sealed class TuiFarmOptionsTests
{
    private static (int Code, string Err) Tui(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = PeftCli.Run(["tui", .. args], stdout, stderr);
        return (code, stderr.ToString());
    }

    [Fact]
    public void A_bad_cluster_key_address_or_tls_option_is_refused_with_its_reason()
    {
        var shortKey = Tui("--cluster", "redis://127.0.0.1:6399", "--cluster-key", "short");
        Assert.NotEqual(0, shortKey.Code);
        Assert.Contains("16 characters", shortKey.Err);

        var badAddress = Tui("--cluster", "http://127.0.0.1:6399", "--cluster-key", new string('k', 20));
        Assert.NotEqual(0, badAddress.Code);
        Assert.Contains("redis://", badAddress.Err);

        var keyWithoutCert = Tui("--cluster", "redis://127.0.0.1:6399", "--cluster-key", new string('k', 20), "--tls-key", "key.pem");
        Assert.NotEqual(0, keyWithoutCert.Code);
        Assert.Contains("--tls-key and --tls-password go with --tls-cert", keyWithoutCert.Err);
    }
}
