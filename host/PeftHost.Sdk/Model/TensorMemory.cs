using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>
/// The address of a CPU tensor's first element, for the few places that hand tensor memory to code
/// outside libtorch: a hand-written kernel (the matrix-vector products of a decoding step) or a file
/// read straight into a parameter. TorchSharp 0.107 exposes only a storage's address, through
/// <c>storage&lt;T&gt;</c>, which makes a Storage object and an alias tensor per call (too slow for
/// a kernel called ~40 times a token: stories260k decoding fell from 449 to 207 tokens/s) and has no
/// type for 16-bit floats. So this asks libtorch directly, through the C export TorchSharp's own
/// native library has for it (<c>THSTensor_data</c>: <c>at::Tensor::data_ptr()</c>, the storage's
/// address plus the tensor's offset).
/// </summary>
public static class TensorMemory
{
    [DllImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    private static extern nint DataPointer(nint tensor);

    /// <summary>
    /// The first element's address of <paramref name="tensor"/> (a contiguous CPU tensor), or false
    /// for any other. Valid while the tensor's storage lives: the caller keeps the tensor alive meanwhile.
    /// </summary>
    public static bool TryAddress(Tensor tensor, out nint address)
    {
        address = 0;
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous()) return false;
        if (tensor.NumberOfElements == 0) return false; // no storage behind it
        address = DataPointer(tensor.Handle);
        GC.KeepAlive(tensor);
        return address != 0;
    }

    /// <summary>As <see cref="TryAddress"/>, throwing where there is no address.</summary>
    public static nint Address(Tensor tensor) =>
        TryAddress(tensor, out var address) ? address
            : throw new ArgumentException($"no address for a {(tensor.is_contiguous() ? "" : "non-contiguous ")}{tensor.dtype} tensor on {tensor.device_type}");
}
