using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training;

/// <summary>
/// The state of torch's default CPU generator as bytes — what dropout draws from on the CPU —
/// so that it can go into checkpoints and be replayed. TorchSharp 0.107 exposes no CUDA
/// generator state; on CUDA the trainer reseeds the CUDA generators at every step instead.
/// </summary>
public static class TorchRng
{
    /// <summary>The default CPU generator's state.</summary>
    public static byte[] CaptureCpu()
    {
        using var state = torch.random.get_rng_state();
        return state.bytes.ToArray();
    }

    /// <summary>
    /// What is wrong with <paramref name="state"/> as a CPU generator state, or null when libtorch will take it.
    /// libtorch checks the length and the Mersenne Twister's bookkeeping itself, but its error escapes TorchSharp's
    /// native call as a C++ exception and aborts the process; so both are checked here first. The layout is
    /// libtorch's <c>CPUGeneratorImplState</c>: the legacy <c>THGeneratorState</c> (seed, <c>left</c> at byte 8,
    /// <c>seeded</c> at 12, <c>next</c> at 16, then the 624 state words) followed by the normal-sample cache.
    /// </summary>
    public static string? Problem(byte[] state)
    {
        int expected = CaptureCpu().Length;
        if (state.Length != expected) return $"holds {state.Length} bytes; torch's CPU generator state is {expected} bytes";
        if (state.Length < 24) return null;
        int left = BitConverter.ToInt32(state, 8), seeded = BitConverter.ToInt32(state, 12);
        ulong next = BitConverter.ToUInt64(state, 16);
        if (seeded == 0 || left is < 1 or > MersenneStateWords || next > MersenneStateWords)
            return $"is not a valid Mersenne Twister state (seeded {seeded}, left {left}, next {next}; left must be 1 to {MersenneStateWords}, next at most {MersenneStateWords})";
        return null;
    }

    private const int MersenneStateWords = 624;

    /// <summary>Restores the default CPU generator to <paramref name="state"/> (checked with <see cref="Problem"/> first).</summary>
    public static void RestoreCpu(byte[] state)
    {
        using var t = tensor(state, ScalarType.Byte);
        torch.random.set_rng_state(t);
    }
}

/// <summary>A point in the random stream of a device that can be returned to (for recomputing dropout exactly).</summary>
internal sealed class RngReplayPoint
{
    private readonly byte[]? _cpu;
    private readonly long? _cudaSeed;

    private RngReplayPoint(byte[]? cpu, long? cudaSeed)
    {
        _cpu = cpu;
        _cudaSeed = cudaSeed;
    }

    /// <summary>
    /// Marks the current point for <paramref name="device"/>: the CPU generator's state, or on CUDA
    /// a fresh seed drawn from the CPU generator and installed in the CUDA generators.
    /// </summary>
    public static RngReplayPoint Mark(Device device)
    {
        if (device.type != DeviceType.CUDA) return new RngReplayPoint(TorchRng.CaptureCpu(), null);
        using var draw = randint(long.MaxValue, [1], dtype: ScalarType.Int64);
        long seed = draw.item<long>();
        torch.cuda.manual_seed_all(seed);
        return new RngReplayPoint(null, seed);
    }

    /// <summary>Returns the generator to the marked point.</summary>
    public void Replay()
    {
        if (_cpu is not null) TorchRng.RestoreCpu(_cpu);
        if (_cudaSeed is long seed) torch.cuda.manual_seed_all(seed);
    }
}
