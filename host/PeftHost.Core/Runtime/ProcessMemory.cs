namespace PeftHost.Core.Runtime;

/// <summary>
/// The process's resident memory as Linux reports it. The peak (VmHWM) can be reset
/// (<c>/proc/self/clear_refs</c> ← 5), so one run's peak can be measured inside a longer process.
/// </summary>
public static class ProcessMemory
{
    /// <summary>Current resident set size in bytes (0 off Linux).</summary>
    public static long ResidentBytes() => StatusField("VmRSS:");

    /// <summary>Peak resident set size since start or the last <see cref="ResetPeak"/>, in bytes (0 off Linux).</summary>
    public static long PeakResidentBytes() => StatusField("VmHWM:");

    /// <summary>Starts a new peak measurement from the current resident size; false where the kernel does not allow it.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>Memory the system can still hand out without swapping (<c>MemAvailable</c>), in bytes (0 off Linux).</summary>
    public static long AvailableSystemBytes() => KilobyteField("/proc/meminfo", "MemAvailable:");

    /// <summary>
    /// A "Name:   123 kB" line of a Linux /proc file (<c>/proc/self/status</c>, <c>/proc/meminfo</c>,
    /// <c>/proc/self/smaps_rollup</c>) in bytes; 0 when the file or the field is missing.
    /// </summary>
    public static long KilobyteField(string path, string name)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
                if (line.StartsWith(name, StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(name.Length).Trim().ToString().Split(' ')[0]) * 1024;
        }
        catch (IOException) { }
        return 0;
    }

    private static long StatusField(string name) => KilobyteField("/proc/self/status", name);
}
