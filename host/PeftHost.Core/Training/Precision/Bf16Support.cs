using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training.Precision;

/// <summary>
/// Whether a device multiplies bf16 matrices natively. On the CPU that means the avx512_bf16 or
/// amx_bf16 instructions (x86) or the bf16 feature (Arm); without them libtorch emulates bf16
/// and training is slower than in float32, so the trainer refuses rather than surprise.
/// </summary>
public static class Bf16Support
{
    private static readonly string[] X86Flags = ["avx512_bf16", "amx_bf16"];

    /// <summary>True when <paramref name="device"/> has native bf16 matmul; otherwise <paramref name="reason"/> says why not.</summary>
    public static bool IsAvailable(Device device, out string reason)
    {
        if (device.type == DeviceType.CUDA)
        {
            reason = "";
            return Probe(device, out reason);
        }
        if (device.type != DeviceType.CPU)
        {
            reason = $"bf16 support on {device.type} devices is not known to the trainer";
            return false;
        }
        var flags = CpuFlags();
        if (flags is null)
        {
            reason = "the CPU's features cannot be read here (no /proc/cpuinfo)";
            return false;
        }
        bool native = RuntimeInformation.ProcessArchitecture is Architecture.Arm64
            ? flags.Contains("bf16")
            : X86Flags.Any(flags.Contains);
        if (!native)
        {
            reason = RuntimeInformation.ProcessArchitecture is Architecture.Arm64
                ? "this CPU lacks the Arm bf16 extension"
                : "this CPU has neither avx512_bf16 nor amx_bf16";
            return false;
        }
        return Probe(device, out reason);
    }

    /// <summary>Throws <see cref="NotSupportedException"/> with a clear message when bf16 compute is unavailable.</summary>
    public static void EnsureAvailable(Device device)
    {
        if (!IsAvailable(device, out string reason))
            throw new NotSupportedException(
                $"bf16 compute is not available on {device}: {reason}. Emulated bf16 would be slower than float32; train with precision float32 instead.");
    }

    private static bool Probe(Device device, out string reason)
    {
        try
        {
            using var scope = NewDisposeScope();
            var a = ones(4, 4, ScalarType.BFloat16, device);
            var product = matmul(a, a).to(ScalarType.Float32).sum().item<float>();
            reason = product == 64f ? "" : $"a bf16 matmul probe returned {product} instead of 64";
            return product == 64f;
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or NotSupportedException)
        {
            reason = $"a bf16 matmul probe failed: {e.Message}";
            return false;
        }
    }

    private static HashSet<string>? CpuFlags()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path)) return null;
        var flags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            if (!(line.StartsWith("flags", StringComparison.Ordinal) || line.StartsWith("Features", StringComparison.Ordinal))) continue;
            int colon = line.IndexOf(':');
            if (colon < 0) continue;
            foreach (var flag in line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)) flags.Add(flag);
            break;
        }
        return flags;
    }
}
