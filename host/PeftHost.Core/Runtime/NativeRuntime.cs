using System.Runtime.InteropServices;
using TorchSharp;

namespace PeftHost.Core.Runtime;

/// <summary>
/// Process-wide native settings: glibc's allocator regime for tensor buffers, libtorch's threads.
/// </summary>
public static class NativeRuntime
{
    private const int M_MMAP_THRESHOLD = -3;
    private const int MmapThreshold = 32 * 1024 * 1024; // glibc's own ceiling for its adaptive threshold: see Initialize
    private static int _initialized;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);

    /// <summary>
    /// Native memory settings, applied once before a training loop allocates. Idempotent; a
    /// no-op off glibc.
    /// <para>
    /// A training step allocates and frees the same activation buffers every step (2–25 MB for
    /// ~20M–1B models at a few thousand tokens a step). Whatever glibc serves from mmap is
    /// page-faulted in and zeroed by the kernel at every allocation; what it serves from its heap is
    /// reused as is. So the mmap threshold is pinned at 32 MiB: activations below it come from the
    /// heap, where a step finds what the previous one freed (<c>Runtime/NativeRuntimeTests</c>). Measured on the 2-core machine, interleaved, same
    /// models, against the previous setting (2 MiB, libtorch's transparent huge pages on):
    /// ~20M LoRA 1.39–1.46× tokens/s, ~20M full fine-tuning 1.16–1.76×, ~100M LoRA 1.09–1.29×,
    /// ~100M full 0.89–1.22× (bench/RESULTS.md, performance log, 2026-12-07).
    /// </para>
    /// <list type="bullet">
    /// <item>Pinned, not glibc's default: glibc raises its threshold adaptively as large blocks are
    /// freed, and resident memory then grew ~2 MB a step in training loops; a fixed threshold keeps
    /// it flat (<c>Training/MemoryTests</c>; ~20M LoRA 699 MB at step 10, 712 MB at step 120).
    /// The heap keeps what a step freed for the next one: peak resident memory of ~20M training
    /// rose ~110 MB (13–19%).</item>
    /// <item>libtorch's transparent huge pages (<c>THP_MEM_ALLOC_ENABLE=1</c>) are not asked for:
    /// they align every buffer of 2 MiB and more to 2 MiB, which inside the heap leaves gaps it
    /// cannot reuse: resident memory climbed ~7 MB a step (~20M LoRA, 764 MB after 4 steps, 1,022
    /// after 40). The cost: a fresh buffer above 32 MiB takes 4 KiB faults, so dequantizing a whole
    /// 4096×4096 NF4 weight at once runs at about half the speed. Users who want that back set
    /// <c>THP_MEM_ALLOC_ENABLE=1</c> (libtorch reads it at its first allocation), or ask glibc for
    /// huge pages on its own mappings with <c>GLIBC_TUNABLES=glibc.malloc.hugetlb=1</c>.</item>
    /// <item><c>MALLOC_MMAP_THRESHOLD_</c> in the environment (glibc's own variable) wins over the pin.</item>
    /// </list>
    /// </summary>
    public static void Initialize()
    {
        if (Interlocked.Exchange(ref _initialized, 1) == 1) return;
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is null) Mallopt(M_MMAP_THRESHOLD, MmapThreshold);
        }
        catch (EntryPointNotFoundException) { } // musl: no mallopt, no adaptive threshold either
        catch (DllNotFoundException) { }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>
    /// Returns the C heap's free pages to the system (glibc <c>malloc_trim</c>) after a phase that
    /// made many small allocations (tensors under the 32 MiB mmap threshold live there), such as
    /// quantizing a model: ~10 MB off the resident size of a quantized ~1.1B model. A no-op off glibc.
    /// </summary>
    public static void ReleaseFreeHeap()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
    }

    /// <summary>Sets libtorch's intra-op thread count when <paramref name="threads"/> is positive.</summary>
    public static void SetThreads(int threads)
    {
        if (threads > 0) torch.set_num_threads(threads);
    }
}
