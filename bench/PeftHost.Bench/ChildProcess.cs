using System.Diagnostics;
using System.Text.Json;

namespace PeftHost.Bench;

/// <summary>
/// Runs one measurement in a fresh process of this harness, so that peak resident memory
/// (VmHWM) belongs to that measurement alone. The child prints one line "RESULT {json}".
/// </summary>
public static class ChildProcess
{
    /// <summary>The argument that selects child mode.</summary>
    public const string Flag = "--child";

    /// <summary>Runs <c>bench --child args…</c> and parses its RESULT line.</summary>
    public static JsonElement Run(params string[] args) => Run(new Dictionary<string, string?>(), args);

    /// <summary>Runs <c>bench --child args…</c> with <paramref name="environment"/> changed (a null value removes a variable).</summary>
    public static JsonElement Run(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // `dotnet bench.dll` or the apphost: pass the assembly when running under the muxer.
        foreach (var (name, value) in environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        start.ArgumentList.Add(Flag);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string? result = null;
        while (process.StandardOutput.ReadLine() is string line)
        {
            if (line.StartsWith("RESULT ", StringComparison.Ordinal)) result = line["RESULT ".Length..];
            else Console.WriteLine($"    {line}");
        }
        process.WaitForExit();
        if (process.ExitCode != 0 || result is null)
            throw new InvalidOperationException($"child {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Result}");
        return JsonDocument.Parse(result).RootElement.Clone();
    }

    /// <summary>Prints the child's result line.</summary>
    public static void Report(object result) => Console.WriteLine("RESULT " + JsonSerializer.Serialize(result));
}
