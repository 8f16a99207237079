using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Runtime;

/// <summary>Resolves the user's <c>--device auto|cpu|cuda[:N]</c> choice (and <c>meta</c>, for sizing a model without weights).</summary>
public static partial class DeviceSelector
{
    /// <summary>The device named by <paramref name="spec"/>; <c>auto</c> picks CUDA when libtorch has it.</summary>
    public static Device Resolve(string? spec)
    {
        spec = string.IsNullOrWhiteSpace(spec) ? "auto" : spec.Trim().ToLowerInvariant();
        if (spec == "meta") return META;
        CheckComputeDevice(spec);
        if (spec == "auto") return cuda.is_available() ? CUDA : CPU;
        if (spec.StartsWith("cuda") && !cuda.is_available())
            throw new ArgumentException($"device '{spec}' requested but this libtorch build has no CUDA (build with -p:TorchBackend=cuda on a CUDA machine)");
        return new Device(spec);
    }

    /// <summary>
    /// Throws unless <paramref name="spec"/> names a device that can run a model: auto, cpu, cuda or cuda:N.
    /// The meta device is refused by name: it holds shapes but no weights, so nothing can run there.
    /// </summary>
    public static void CheckComputeDevice(string spec)
    {
        string name = spec.Trim().ToLowerInvariant();
        if (name == "meta") throw new ArgumentException(MetaHasNoWeights);
        if (!ComputeDeviceName().IsMatch(name)) throw new ArgumentException($"unknown device '{spec}' (use auto, cpu, cuda or cuda:N)");
    }

    /// <summary>Why a model on the meta device cannot run.</summary>
    public const string MetaHasNoWeights = "the meta device holds shapes but no weights, so a model there cannot run; use auto, cpu, cuda or cuda:N";

    [System.Text.RegularExpressions.GeneratedRegex("^(auto|cpu|cuda(:[0-9]{1,3})?)$")]
    private static partial System.Text.RegularExpressions.Regex ComputeDeviceName();

    /// <summary>Parses a dtype name as Hugging Face writes it (float32, bfloat16, float16; also fp32, bf16, fp16).</summary>
    public static ScalarType ParseDtype(string name) => name.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" or "float" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"unknown dtype '{name}' (use float32, bfloat16 or float16)"),
    };

    /// <summary>The Hugging Face name of a floating dtype.</summary>
    public static string DtypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => dtype.ToString().ToLowerInvariant(),
    };
}
