using System.Runtime.InteropServices;
using TorchSharp;

namespace PeftHost.Core.Runtime;

/// <summary>
/// Process start-up that must happen before libtorch allocates anything.
/// </summary>
public static class NativeRuntime
{
    private const int M_MMAP_THRESHOLD = -3;
    private const int MmapThreshold = 2 * 1024 * 1024; // libtorch's huge-page allocation size: see Initialize
    private static int _initialized;

    private const string HugePagesVariable = "THP_MEM_ALLOC_ENABLE";

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    /// <summary>
    /// Native memory settings, applied once before libtorch allocates anything. Idempotent; a
    /// no-op off glibc.
    /// <list type="bullet">
    /// <item>glibc raises its mmap threshold adaptively as large blocks are freed (up to 32 MiB),
    /// after which large tensor buffers come from the heap and are never returned: resident memory
    /// grows ~2 MB a step in training loops. Pinning the threshold keeps large buffers on mmap and
    /// memory flat (unless <c>MALLOC_MMAP_THRESHOLD_</c> is set).</item>
    /// <item>A buffer on mmap is page-faulted in, and zeroed by the kernel, every time it is
    /// allocated. libtorch's <c>THP_MEM_ALLOC_ENABLE</c> aligns allocations of 2 MiB and more to
    /// 2 MiB and asks for transparent huge pages, 512× fewer faults: NF4 dequantization went from 275
    /// to 855 M elements/s and ~20M training gained 5–8% tokens/s on the 2-core CI machine. libtorch
    /// reads the variable at its first allocation, so it is set here, in the native environment,
    /// unless the user set it (to 0 to opt out). Without THP in the kernel it changes nothing.</item>
    /// <item>So the threshold is that huge-page size: buffers from 2 MiB go to mmap in huge pages,
    /// smaller ones stay in the heap and are reused without a fault. At 128 KiB (before 2026-12-07)
    /// every activation of a small model took the 4 KiB-fault path: a stories260k LoRA step of
    /// 16 × 128 tokens spent 5.5 s of 14 s of CPU in the kernel; at 2 MiB, 0.45 s, and the step took
    /// 270–295 ms instead of 475 (one thread; bench/RESULTS.md, performance log).</item>
    /// </list>
    /// </summary>
    public static void Initialize()
    {
        if (Interlocked.Exchange(ref _initialized, 1) == 1) return;
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is null) Mallopt(M_MMAP_THRESHOLD, MmapThreshold);
            if (Environment.GetEnvironmentVariable(HugePagesVariable) is null) SetEnv(HugePagesVariable, "1", overwrite: 0);
        }
        catch (EntryPointNotFoundException) { } // musl: no mallopt, no adaptive threshold either
        catch (DllNotFoundException) { }
    }

    /// <summary>True when libtorch was asked for transparent huge pages (by <see cref="Initialize"/> or the user).</summary>
    public static bool HugePagesRequested => NativeVariable(HugePagesVariable) == "1"; // what libtorch reads, whoever set it

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>
    /// Returns the C heap's free pages to the system (glibc <c>malloc_trim</c>) after a phase that
    /// made many small allocations (tensors under the 2 MiB mmap threshold live there), such as
    /// quantizing a model: ~10 MB off the resident size of a quantized ~1.1B model. A no-op off glibc.
    /// </summary>
    public static void ReleaseFreeHeap()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
    }

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv(string name);

    private static string? NativeVariable(string name)
    {
        try { return Marshal.PtrToStringUTF8(GetEnv(name)); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { return null; }
    }

    /// <summary>Sets libtorch's intra-op thread count when <paramref name="threads"/> is positive.</summary>
    public static void SetThreads(int threads)
    {
        if (threads > 0) torch.set_num_threads(threads);
    }
}
