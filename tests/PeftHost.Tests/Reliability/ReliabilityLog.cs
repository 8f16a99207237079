namespace PeftHost.Tests.Reliability;

/// <summary>
/// Appends one line per measured outcome to <c>$PEFTHOST_RELIABILITY_LOG</c> when it is set, so that
/// docs/RELIABILITY.md can be filled from an actual run. Does nothing otherwise.
/// </summary>
public static class ReliabilityLog
{
    private static readonly object Gate = new();

    public static void Record(string area, string line)
    {
        string? path = Environment.GetEnvironmentVariable("PEFTHOST_RELIABILITY_LOG");
        if (string.IsNullOrEmpty(path)) return;
        lock (Gate) File.AppendAllText(path, $"[{area}] {line}\n");
    }
}
