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

    /// <summary>Restores the default CPU generator to <paramref name="state"/>.</summary>
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
