namespace PeftHost.Tests.Support;

/// <summary>Paths the tests use: the repository (for bundled models) and the copied fixtures.</summary>
public static class TestPaths
{
    /// <summary>The repository root (the folder holding PeftHost.sln).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The build configuration these tests were built in (Release or Debug), read from their output path.</summary>
    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    /// <summary>The bundled stories260k model folder.</summary>
    public static string Stories260k => Path.Combine(RepoRoot, "models", "stories260k");

    /// <summary>A fixture file or folder, as copied to the test output.</summary>
    public static string Fixture(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PeftHost.sln"))) return dir.FullName;
        throw new InvalidOperationException("PeftHost.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary folder deleted at dispose.</summary>
public sealed class TempDir : IDisposable
{
    /// <summary>Creates the folder.</summary>
    public TempDir() => Directory.CreateDirectory(Path);

    /// <summary>The folder.</summary>
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pefthost-tests", Guid.NewGuid().ToString("N"));

    /// <summary>A path inside the folder.</summary>
    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <inheritdoc />
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
