using System.Globalization;
using System.Runtime.InteropServices;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>The process's memory at one moment.</summary>
/// <param name="ResidentBytes">Resident set size (from <c>/proc/self/statm</c>); null where there is no procfs.</param>
/// <param name="NativeHeapBytes">
/// Bytes in use on the native (malloc) heap — where libtorch keeps CPU tensors — from glibc's
/// <c>mallinfo2</c>; null where it is unavailable.
/// </param>
/// <param name="ManagedBytes">Bytes on the .NET heap.</param>
public sealed record MemorySample(long? ResidentBytes, long? NativeHeapBytes, long ManagedBytes);

/// <summary>Reads the process's memory: resident set, native heap in use (tensor memory on CPU), managed heap.</summary>
public static class ProcessMemory
{
    private const string StatmPath = "/proc/self/statm";
    private static bool _mallinfoMissing;

    /// <summary>A sample now.</summary>
    public static MemorySample Read()
    {
        long? resident = null;
        try
        {
            if (File.Exists(StatmPath)) resident = ResidentBytes(File.ReadAllText(StatmPath), Environment.SystemPageSize);
        }
        catch (IOException) { }
        return new MemorySample(resident, NativeHeapInUse(), GC.GetTotalMemory(forceFullCollection: false));
    }

    /// <summary>
    /// The resident bytes in a <c>/proc/self/statm</c> line (<c>size resident shared text lib data dt</c>,
    /// in pages): the second field times <paramref name="pageSize"/>. Null when the line is malformed.
    /// </summary>
    public static long? ResidentBytes(string statm, long pageSize)
    {
        var fields = statm.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return fields.Length >= 2 && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out long pages)
            ? pages * pageSize : null;
    }

    private static long? NativeHeapInUse()
    {
        if (_mallinfoMissing || !OperatingSystem.IsLinux()) return null;
        try
        {
            var info = mallinfo2();
            // uordblks: bytes in use in the arenas; hblkhd: bytes in mmapped chunks (large tensors).
            return (long)(info.uordblks + info.hblkhd);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _mallinfoMissing = true; // glibc before 2.33, or another C library
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 mallinfo2();
}
