using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using PeftHost.Core.Peft;
using PeftHost.Farm;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Farm;

/// <summary>
/// A real cluster whose members talk TLS with one shared certificate (<c>--tls-cert</c>): a sweep runs on it (with
/// <c>--shared-storage</c>, the mode ClusterSweepTests does not cover); a
/// submitter without a certificate, or with another one, is refused with a message saying what to check; a silo
/// without the certificate does not join.
/// </summary>
public sealed class FarmTlsTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>A self-signed certificate for <paramref name="name"/> usable by servers and clients.</summary>
    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false)); // server and client authentication
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    [Fact]
    public void Certificates_load_from_pfx_and_pem_and_a_file_without_its_key_is_refused_by_name()
    {
        using var certificate = SelfSigned("peft-farm-test");
        string pfx = Path.Combine(_h.Folder, "farm.pfx");
        File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pfx, "s3cret"));
        Assert.Equal(certificate.Thumbprint, FarmTls.Load(pfx, null, "s3cret").Certificate.Thumbprint);
        var wrong = Assert.Throws<ArgumentException>(() => FarmTls.Load(pfx, null, "other"));
        Assert.Contains(pfx, wrong.Message);

        string pem = Path.Combine(_h.Folder, "farm.crt"), key = Path.Combine(_h.Folder, "farm.key");
        File.WriteAllText(pem, certificate.ExportCertificatePem());
        File.WriteAllText(key, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        Assert.Equal(certificate.Thumbprint, FarmTls.Load(pem, key, null).Certificate.Thumbprint);
        var keyless = Assert.Throws<ArgumentException>(() => FarmTls.Load(pem, null, null));
        Assert.Contains(pem, keyless.Message);
        Assert.Contains("no such file", Assert.Throws<ArgumentException>(() => FarmTls.Load(pem + ".missing", null, null)).Message);
    }

    [SkippableFact]
    public void A_tls_farm_runs_a_sweep_and_refuses_members_without_its_certificate()
    {
        Skip.IfNot(File.Exists(FarmCluster.RedisServer), $"{FarmCluster.RedisServer} is missing (.ci/run installs redis-server)");
        string recipe = _h.Write("tune.js", FarmRecipes.Training);
        using var certificate = SelfSigned("peft-farm-test");
        string pfx = Path.Combine(_h.Folder, "farm.pfx");
        File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pfx, "s3cret"));
        string[] tls = ["--tls-cert", pfx, "--tls-password", "s3cret"];

        using var farm = new FarmCluster();
        farm.StartSilos(2, TimeSpan.FromSeconds(90), tls);
        Assert.All(farm.Silos, s => Assert.Contains("TLS with certificate", s.Stderr));

        string sweep = Path.Combine(_h.Folder, "sweep");
        using (var submitter = PeftProcess.Start(["sweep", recipe, "--grid", "r=4,8", "--set", "steps=2", "--rank", "loss", "--out", sweep,
            "--workspace", TestPaths.RepoRoot, "--cluster", farm.Address, "--cluster-key", farm.Key, "--shared-storage", .. tls], FarmCluster.OneThread))
        {
            Assert.True(submitter.WaitForExit(TimeSpan.FromSeconds(180)) == 0, $"stdout:\n{submitter.Stdout}\nstderr:\n{submitter.Stderr}");
            Assert.Contains("over TLS; shared storage", submitter.Stderr);
        }
        var jobs = JsonNode.Parse(File.ReadAllText(Path.Combine(sweep, SweepSummary.FileName)))!["jobs"]!.AsArray();
        Assert.Equal(2, jobs.Count);
        Assert.All(jobs, j => Assert.Equal("succeeded", j!["state"]!.GetValue<string>()));
        Assert.All(jobs, j => Assert.True(File.Exists(Path.Combine(sweep, j!["name"]!.GetValue<string>(), "adapter", AdapterFiles.WeightsFileName))));

        // Submitters with the right key but no certificate, or another one (as PEM), reach no silo and say what to check.
        using var other = SelfSigned("peft-farm-test");
        string otherPem = Path.Combine(_h.Folder, "other.crt"), otherKey = Path.Combine(_h.Folder, "other.key");
        File.WriteAllText(otherPem, other.ExportCertificatePem());
        File.WriteAllText(otherKey, other.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        foreach (var (label, extra) in new[] { ("no certificate", Array.Empty<string>()), ("another certificate", new[] { "--tls-cert", otherPem, "--tls-key", otherKey }) })
        {
            string elsewhere = Path.Combine(_h.Folder, "refused-" + extra.Length);
            using var stranger = PeftProcess.Start(["sweep", recipe, "--out", elsewhere, "--workspace", TestPaths.RepoRoot,
                "--cluster", farm.Address, "--cluster-key", farm.Key, "--connect-timeout", "15", .. extra]);
            Assert.True(stranger.WaitForExit(TimeSpan.FromSeconds(90)) == 1, $"{label}: {stranger.Stderr}");
            Assert.Contains("no silo of the farm", stranger.Stderr);
            Assert.Contains("same --tls-cert", stranger.Stderr);
            Assert.False(Directory.Exists(elsewhere), label);
        }

        // A silo with the key but without the certificate reaches no member: they vote it dead and Orleans stops it
        // ("I have been told I am dead"); it never joins, and the farm's silos go on.
        var intruder = farm.StartSilo();
        int intruderExit = intruder.WaitForExit(TimeSpan.FromSeconds(120));
        Assert.NotEqual(0, intruderExit);
        Assert.DoesNotContain("joined the farm", intruder.Stderr);
        Assert.All(farm.Silos.Take(2), s => Assert.False(s.HasExited, s.Stderr));
    }
}
