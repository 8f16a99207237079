using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>
/// The threads a hand-written matrix-vector kernel (<c>FloatMatVec</c>, the 4-bit <c>FourBitMatVec</c>)
/// spreads its rows over, and the decoding scope that hands libtorch's threads to them.
/// <para>
/// libtorch multiplies one row by a matrix on one thread whatever its thread count, at about half
/// the machine's memory bandwidth; a kernel can split the rows over the threads. But libtorch's
/// OpenMP workers spin for a while after each parallel operation, on the cores the kernel's threads
/// need: splitting inside a step of libtorch operations made decoding slower (~100M: 41 → 32
/// tokens/s). So a decoding step runs in <see cref="Decoding"/>: libtorch's operations on this
/// thread run on one thread (a step's norms and additions over one token gain nothing from more),
/// and the kernels get the threads libtorch had.
/// </para>
/// <para>
/// The scope sets OpenMP's thread count of the calling thread only (<c>omp_set_num_threads</c> in
/// libtorch's own libgomp), not libtorch's <c>set_num_threads</c>: that also sets the process-wide
/// count every thread takes on its first parallel operation, so a training run started beside a
/// generation took one thread (and summed in another order: the quickstart's accuracy moved by two
/// points in the test suite). Where libgomp cannot be found the scope changes nothing.
/// </para>
/// </summary>
public static class KernelThreads
{
    /// <summary>Weights per part below which a kernel stays on the calling thread (scheduling would cost more than it saves).</summary>
    public const long MinWeightsPerPart = 1L << 17;

    [ThreadStatic] private static int _decoding;

    /// <summary>The threads a kernel called on this thread may use: libtorch's count, or inside <see cref="Decoding"/> the count libtorch had before it.</summary>
    public static int Count => _decoding > 0 ? _decoding : get_num_threads();

    /// <summary>
    /// For one decoding step: libtorch's operations on this thread run single-threaded and the
    /// kernels get its threads, until disposed (which restores libtorch's count). Nested scopes are no-ops.
    /// </summary>
    public static IDisposable Decoding()
    {
        if (_decoding > 0) return NoScope.Instance;
        int threads = get_num_threads(); // also libtorch's first-use set-up of this thread's count, which would undo ours
        if (threads <= 1 || !OpenMp.TrySetThreadsOfThisThread(1)) return NoScope.Instance;
        _decoding = threads;
        return new Scope(threads);
    }

    /// <summary>
    /// Runs <paramref name="body"/> over [0, <paramref name="rows"/>) in up to <see cref="Count"/>
    /// contiguous ranges, each of at least <see cref="MinWeightsPerPart"/> weights
    /// (<paramref name="weightsPerRow"/> each); the calling thread takes one of them.
    /// </summary>
    public static void Split(long rows, long weightsPerRow, Action<long, long> body)
    {
        long parts = Math.Clamp(rows * weightsPerRow / MinWeightsPerPart, 1, Math.Min(Count, rows));
        if (parts <= 1)
        {
            body(0, rows);
            return;
        }
        long per = (rows + parts - 1) / parts;
        Parallel.For(0, parts, part => body(part * per, Math.Min(rows, (part + 1) * per)));
    }

    private sealed class Scope(int threads) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            OpenMp.TrySetThreadsOfThisThread(threads);
            _decoding = 0;
        }
    }

    /// <summary>
    /// <c>omp_set_num_threads</c> of the libgomp libtorch links (a copy with a hashed name beside
    /// libtorch_cpu.so), found once. Opening the same file again returns the loaded library.
    /// </summary>
    private static class OpenMp
    {
        private delegate void SetNumThreads(int count);

        private static readonly Lazy<SetNumThreads?> Set = new(Find);

        public static bool TrySetThreadsOfThisThread(int count)
        {
            if (Set.Value is not { } set) return false;
            set(count);
            return true;
        }

        private static SetNumThreads? Find()
        {
            if (!OperatingSystem.IsLinux()) return null;
            string?[] folders = [AppContext.BaseDirectory, Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location)];
            foreach (var folder in folders.Where(Directory.Exists).Distinct())
                foreach (var file in Directory.EnumerateFiles(folder!, "libgomp*.so*").Concat(Directory.Exists(Path.Combine(folder!, "cpu")) ? Directory.EnumerateFiles(Path.Combine(folder!, "cpu"), "libgomp*.so*") : []))
                    if (System.Runtime.InteropServices.NativeLibrary.TryLoad(file, out var library)
                        && System.Runtime.InteropServices.NativeLibrary.TryGetExport(library, "omp_set_num_threads", out var address))
                        return System.Runtime.InteropServices.Marshal.GetDelegateForFunctionPointer<SetNumThreads>(address);
            return null;
        }
    }

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();
        public void Dispose() { }
    }
}
