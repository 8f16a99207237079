using System.Diagnostics;
using System.Text;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Support;

/// <summary>
/// The real <c>peft</c> executable in a child process: <c>host/PeftHost/bin/&lt;Configuration&gt;/net10.0/linux-x64/peft</c>
/// of this build (the copy next to the test assembly when that one is missing).
/// </summary>
public sealed class PeftProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new(), _stderr = new();

    private PeftProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The executable's path.</summary>
    public static string Executable { get; } = Find();

    /// <summary>The child's process id.</summary>
    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Starts <c>peft run <paramref name="recipe"/></c> with the repository as workspace.</summary>
    public static PeftProcess Run(string recipe, string output, params string[] extra) =>
        Start(["run", recipe, "--out", output, "--workspace", TestPaths.RepoRoot, .. extra]);

    /// <summary>Starts <c>peft</c> with <paramref name="arguments"/>, and <paramref name="environment"/> added to its environment.</summary>
    public static PeftProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = TestPaths.RepoRoot,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        return new PeftProcess(Process.Start(start)!);
    }

    /// <summary>Waits for the process to end; fails the test after <paramref name="limit"/>.</summary>
    public int WaitForExit(TimeSpan limit)
    {
        if (!_process.WaitForExit(limit))
        {
            Kill();
            Assert.Fail($"peft did not finish within {limit.TotalSeconds:F0} s\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }
        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    /// <summary>SIGKILL (no chance to clean up), then waits for the process to be gone.</summary>
    public void Kill()
    {
        try { _process.Kill(entireProcessTree: false); } catch (InvalidOperationException) { }
        _process.WaitForExit(10_000);
    }

    /// <summary>Runs to the end and returns (exit code, stdout, stderr).</summary>
    public static (int Code, string Out, string Err) RunToEnd(string recipe, string output, TimeSpan limit, params string[] extra)
    {
        using var p = Run(recipe, output, extra);
        int code = p.WaitForExit(limit);
        return (code, p.Stdout, p.Stderr);
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }

    private static string Find()
    {
        string built = Path.Combine(TestPaths.RepoRoot, "host", "PeftHost", "bin", TestPaths.Configuration, "net10.0", "linux-x64", "peft");
        string beside = Path.Combine(AppContext.BaseDirectory, "peft");
        // The project's own output when it is at least as new as the copy beside the tests.
        if (File.Exists(built) && (!File.Exists(beside) || File.GetLastWriteTimeUtc(Path.ChangeExtension(built, ".dll")) >= File.GetLastWriteTimeUtc(Path.ChangeExtension(beside, ".dll"))))
            return built;
        return File.Exists(beside) ? beside : throw new FileNotFoundException($"the peft executable was not found at {built} or {beside}; build host/PeftHost first");
    }
}
