using System.Runtime.InteropServices;
using TorchSharp;

namespace PeftHost.Core.Runtime;

/// <summary>
/// Process start-up that must happen before libtorch allocates anything.
/// </summary>
public static class NativeRuntime
{
    private const int M_MMAP_THRESHOLD = -3;
    private static int _initialized;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);

    /// <summary>
    /// glibc raises its mmap threshold adaptively as large blocks are freed, after which tensor
    /// buffers come from the heap and are never returned: resident memory grows ~2 MB a step in
    /// training loops. Pinning the threshold at 128 KiB keeps large buffers on mmap and memory flat.
    /// Idempotent; a no-op off glibc.
    /// </summary>
    public static void Initialize()
    {
        if (Interlocked.Exchange(ref _initialized, 1) == 1) return;
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is null)
        {
            try { Mallopt(M_MMAP_THRESHOLD, 128 * 1024); }
            catch (EntryPointNotFoundException) { } // musl: no mallopt, no adaptive threshold either
            catch (DllNotFoundException) { }
        }
    }

    /// <summary>Sets libtorch's intra-op thread count when <paramref name="threads"/> is positive.</summary>
    public static void SetThreads(int threads)
    {
        if (threads > 0) torch.set_num_threads(threads);
    }
}
