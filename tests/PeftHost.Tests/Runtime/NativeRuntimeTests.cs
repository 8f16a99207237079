using System.Runtime.InteropServices;
using PeftHost.Core.Runtime;
using static TorchSharp.torch;

namespace PeftHost.Tests.Runtime;

// Reads glibc's process-wide mmap counters around an allocation: alone, so no other test allocates meanwhile.
[Collection(PeftHost.Tests.Training.TorchRngCollection.Name)]
public class NativeRuntimeTests
{
    [Theory]
    [InlineData(4L << 20)]  // ~20M activations: [1024, 1376] floats is 5.6 MB
    [InlineData(24L << 20)] // ~1B: [1024, 5632] floats
    public void Activation_sized_buffers_come_from_the_heap_not_from_mmap(long bytes)
    {
        // A training step frees and allocates the same activations every step: from glibc's heap they
        // are reused as they are, from mmap (the old 2 MiB threshold) faulted in and zeroed every time.
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null) return;
        NativeRuntime.Initialize();
        long before = MallocInfo().MappedBytes;
        using var activation = empty(bytes, ScalarType.Byte);
        long mapped = MallocInfo().MappedBytes - before;
        Assert.True(mapped < bytes, $"a {bytes >> 20} MiB tensor added {mapped >> 20} MiB of mmapped memory: it did not come from the heap");
    }

    [Fact]
    public void Buffers_above_the_threshold_still_go_back_to_the_system()
    {
        // A model's weights or a whole dequantized matrix: kept off the heap, so freeing them returns the memory.
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null) return;
        NativeRuntime.Initialize();
        long before = MallocInfo().MappedBytes;
        using var large = empty(64L << 20, ScalarType.Byte);
        Assert.True(MallocInfo().MappedBytes - before >= 64L << 20);
    }

    /// <summary>glibc's <c>struct mallinfo2</c> (glibc 2.33+): ten size_t fields; hblkhd is the bytes in mmapped chunks, process-wide.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost;

        public readonly long MappedBytes => (long)HBlkHd;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 MallocInfo();
}
