using PeftHost.Core.Runtime;
using static TorchSharp.torch;

namespace PeftHost.Tests.Runtime;

// Allocates 256 MiB and reads process-wide counters: alone, so it neither disturbs nor is disturbed.
[Collection(PeftHost.Tests.Training.TorchRngCollection.Name)]
public class NativeRuntimeTests
{
    [Fact]
    public void Large_tensors_get_transparent_huge_pages_where_the_kernel_offers_them()
    {
        Assert.True(NativeRuntime.HugePagesRequested, "THP_MEM_ALLOC_ENABLE is not set in the native environment");
        const string modeFile = "/sys/kernel/mm/transparent_hugepage/enabled";
        if (!File.Exists(modeFile) || File.ReadAllText(modeFile).Contains("[never]")) return; // nothing the kernel could show

        long before = AnonHugePagesBytes();
        using var big = ones(64L << 20); // 256 MiB of float32, every page touched
        long after = AnonHugePagesBytes();
        Assert.True(after - before >= 128L << 20,
            $"huge pages grew by {(after - before) >> 20} MiB for a 256 MiB tensor (libtorch read THP_MEM_ALLOC_ENABLE before NativeRuntime.Initialize?)");
    }

    private static long AnonHugePagesBytes() => ProcessMemory.KilobyteField("/proc/self/smaps_rollup", "AnonHugePages:");
}
