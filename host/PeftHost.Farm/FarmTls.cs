using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace PeftHost.Farm;

/// <summary>
/// TLS with mutual authentication between a farm's members (silo to silo, submitter to gateway), by one certificate
/// every member holds: each side presents it and accepts a connection only when the other side presents the very
/// same certificate (compared byte for byte, whatever its issuer or name), so a member without it can neither join
/// nor submit. Built on Microsoft.Orleans.Connections.Security.
/// </summary>
public sealed class FarmTls
{
    /// <summary>The environment variable that carries the PFX password when <c>--tls-password</c> is not given.</summary>
    public const string PasswordVariable = "PEFT_FARM_TLS_PASSWORD";

    private FarmTls(X509Certificate2 certificate, string source)
    {
        Certificate = certificate;
        Source = source;
    }

    /// <summary>The shared certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The file(s) it was read from, for messages.</summary>
    public string Source { get; }

    /// <summary>Its SHA-256 fingerprint (what <c>openssl x509 -fingerprint -sha256</c> prints, without colons).</summary>
    public string Fingerprint => Certificate.GetCertHashString(HashAlgorithmName.SHA256);

    /// <summary>
    /// Reads the certificate: a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>, with <paramref name="password"/> when it has
    /// one), or a PEM certificate with its PEM private key in <paramref name="keyFile"/> (or in the same file).
    /// </summary>
    /// <exception cref="ArgumentException">The file is missing, unreadable, or holds no private key (the message names it).</exception>
    public static FarmTls Load(string certificateFile, string? keyFile, string? password)
    {
        if (!File.Exists(certificateFile)) throw new ArgumentException($"--tls-cert {certificateFile}: no such file");
        if (keyFile is not null && !File.Exists(keyFile)) throw new ArgumentException($"--tls-key {keyFile}: no such file");
        X509Certificate2 certificate;
        string source = keyFile is null ? certificateFile : $"{certificateFile} and {keyFile}";
        try
        {
            certificate = IsPem(certificateFile)
                ? X509Certificate2.CreateFromPemFile(certificateFile, keyFile)
                : X509CertificateLoader.LoadPkcs12FromFile(certificateFile, password, X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"--tls-cert {source}: cannot read the certificate ({e.Message}); "
                + "give a PKCS#12 file (.pfx, with --tls-password or " + PasswordVariable + " when it has one) or a PEM certificate and --tls-key", e);
        }
        if (!certificate.HasPrivateKey)
            throw new ArgumentException($"--tls-cert {source}: the certificate has no private key (a member must prove it holds it)");
        return new FarmTls(certificate, source);
    }

    /// <summary>Wraps a certificate already loaded (tests).</summary>
    public static FarmTls Of(X509Certificate2 certificate) =>
        certificate.HasPrivateKey ? new FarmTls(certificate, certificate.Subject) : throw new ArgumentException("the farm certificate needs its private key");

    /// <summary>Puts TLS on a silo's silo-to-silo and gateway connections.</summary>
    public void Apply(ISiloBuilder silo) => silo.UseTls(Certificate, Configure);

    /// <summary>Puts TLS on a client's gateway connections.</summary>
    public void Apply(IClientBuilder client) => client.UseTls(Certificate, Configure);

    private void Configure(TlsOptions options)
    {
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        // Trust is the shared certificate itself, not a chain or a host name: a self-signed certificate made with
        // openssl is enough, and a certificate from the same CA but not this one is refused.
        options.RemoteCertificateValidation = (remote, _, _) => remote is not null && remote.RawData.AsSpan().SequenceEqual(Certificate.RawData);
        string name = Certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        options.OnAuthenticateAsClient = (_, ssl) => ssl.TargetHost = name;
    }

    private static bool IsPem(string file)
    {
        using var reader = new StreamReader(file);
        var start = new char[64];
        int read = reader.ReadBlock(start);
        return new string(start, 0, read).TrimStart().StartsWith("-----BEGIN", StringComparison.Ordinal);
    }
}
