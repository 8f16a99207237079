using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>
/// Runs a hand-written kernel's parts on libtorch's own intra-op threads, as libtorch's
/// <c>at::parallel_for</c> runs its operators' parts: for the kernels of a decoding step (the
/// float32 and 4-bit matrix-vector products), which libtorch computes on one thread.
/// <para>
/// Why libtorch's threads and not .NET's: after each parallel operation libtorch's OpenMP workers
/// spin for a while waiting for the next one, on the very cores a .NET thread would need. Parts on
/// .NET threads inside a step of libtorch operations ran no faster than one thread (bench/RESULTS.md,
/// performance log, 2026-12-07); on the spinning workers themselves they start at once: a ~100M
/// model's projections read their weights at 26.7 GB/s on two threads against 15 GB/s for libtorch's
/// one-row product. TorchSharp exposes no <c>parallel_for</c>, so this calls <c>GOMP_parallel</c>,
/// the entry point GCC compiles <c>#pragma omp parallel</c> to (a stable ABI since GCC 4.9), in the
/// libgomp that libtorch itself loaded: the same team libtorch's next operation reuses.
/// </para>
/// <para>
/// The team has libtorch's thread count for the calling thread (<c>get_num_threads</c>, which
/// <c>--threads</c> sets), capped so that each part has at least <see cref="MinCostPerPart"/> work.
/// Where libtorch's OpenMP runtime is not GNU's (libtorch's Windows and macOS builds) or none is
/// loaded, the parts run one after another on the calling thread: correct, as fast as libtorch.
/// </para>
/// </summary>
public static unsafe class IntraOpParallel
{
    /// <summary>Work per part (in the caller's unit: weights read, for a matrix-vector product) below which one thread does it all: starting the team would cost more than it saves.</summary>
    public const long MinCostPerPart = 1L << 17;

    /// <summary>True when parts can run on libtorch's OpenMP threads (libgomp found in the process).</summary>
    public static bool OnLibTorchThreads => OpenMp.Runtime is not null;

    /// <summary>
    /// How many parts <see cref="For"/> would run this work in: up to libtorch's thread count for the
    /// calling thread, each of at least <see cref="MinCostPerPart"/>; 1 where the parts cannot run
    /// on libtorch's threads. A kernel that is worth writing only for its threads (one libtorch
    /// already has on one thread) can leave work of one part to libtorch.
    /// </summary>
    public static long Parts(long count, long costPerItem)
    {
        if (count <= 1 || OpenMp.Runtime is null) return 1;
        return Math.Max(1, Math.Min(Math.Min(count * Math.Max(costPerItem, 1) / MinCostPerPart, get_num_threads()), count));
    }

    /// <summary>
    /// Calls <paramref name="body"/>(first, end) over contiguous ranges covering [0,
    /// <paramref name="count"/>), in parallel on libtorch's threads where the work is worth it
    /// (<paramref name="costPerItem"/> per item). Returns when every range is done; the first
    /// exception a range threw is rethrown on the calling thread. The ranges must not depend on
    /// each other or on which thread runs them.
    /// </summary>
    public static void For(long count, long costPerItem, Action<long, long> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (count <= 0) return;
        long parts = Parts(count, costPerItem);
        if (parts <= 1 || OpenMp.Runtime is not { } omp)
        {
            body(0, count);
            return;
        }
        var work = new Work(body, count, parts, omp);
        var handle = GCHandle.Alloc(work);
        try
        {
            omp.Parallel(&RunParts, GCHandle.ToIntPtr(handle), (uint)parts, 0);
        }
        finally
        {
            handle.Free();
        }
        if (work.Error is { } error) ExceptionDispatchInfo.Throw(error);
    }

    /// <summary>One team member's share. Runs on an OpenMP thread (the runtime attaches it to .NET on its first call): nothing may escape it.</summary>
    [UnmanagedCallersOnly]
    private static void RunParts(nint data)
    {
        var work = (Work)GCHandle.FromIntPtr(data).Target!;
        try
        {
            // The team may be smaller than asked (OMP_THREAD_LIMIT, a nested region): members stride over the parts.
            int member = work.Omp.ThreadNumber(), members = work.Omp.TeamSize();
            long per = (work.Count + work.Parts - 1) / work.Parts;
            for (long part = member; part < work.Parts; part += members)
            {
                long first = part * per, end = Math.Min(work.Count, first + per);
                if (first < end) work.Body(first, end);
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref work.Error, e, null);
        }
    }

    private sealed class Work(Action<long, long> body, long count, long parts, OpenMp omp)
    {
        public readonly Action<long, long> Body = body;
        public readonly long Count = count, Parts = parts;
        public readonly OpenMp Omp = omp;
        public Exception? Error;
    }

    /// <summary>
    /// libgomp's entry points, taken from the copy libtorch loaded (it ships one with a hashed name,
    /// e.g. libgomp-98b21ff3.so.1 beside libtorch_cpu.so). Found by its path among the process's
    /// mappings: loading that path again returns the library already loaded, so its thread pool is
    /// libtorch's.
    /// </summary>
    private sealed class OpenMp(
        delegate* unmanaged<delegate* unmanaged<nint, void>, nint, uint, uint, void> parallel,
        delegate* unmanaged<int> threadNumber,
        delegate* unmanaged<int> teamSize)
    {
        private static readonly Lazy<OpenMp?> Found = new(Find);

        public static OpenMp? Runtime => Found.Value;

        public void Parallel(delegate* unmanaged<nint, void> body, nint data, uint threads, uint flags) => parallel(body, data, threads, flags);

        public int ThreadNumber() => threadNumber();

        public int TeamSize() => teamSize();

        private static OpenMp? Find()
        {
            if (!OperatingSystem.IsLinux()) return null;
            get_num_threads(); // loads libtorch (and with it its libgomp) if nothing has yet
            string? path;
            try
            {
                path = File.ReadLines("/proc/self/maps")
                    .Select(line => line.IndexOf('/') is var slash and >= 0 ? line[slash..] : null)
                    .FirstOrDefault(file => file is not null && Path.GetFileName(file).StartsWith("libgomp", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                return null;
            }
            if (path is null || !NativeLibrary.TryLoad(path, out var library)) return null;
            if (!NativeLibrary.TryGetExport(library, "GOMP_parallel", out var parallel)
                || !NativeLibrary.TryGetExport(library, "omp_get_thread_num", out var threadNumber)
                || !NativeLibrary.TryGetExport(library, "omp_get_num_threads", out var teamSize))
                return null;
            return new OpenMp(
                (delegate* unmanaged<delegate* unmanaged<nint, void>, nint, uint, uint, void>)parallel,
                (delegate* unmanaged<int>)threadNumber,
                (delegate* unmanaged<int>)teamSize);
        }
    }
}
