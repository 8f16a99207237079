using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>
/// The address of a CPU tensor's first element, for the few places that hand tensor memory to code
/// outside libtorch: a hand-written kernel (the 4-bit matrix-vector product) or a file read
/// straight into a parameter. TorchSharp exposes only a storage's address, through
/// <c>storage&lt;T&gt;</c> for the element types it has a .NET type for; asked for another type
/// than the tensor's it converts the tensor first (the address would be a temporary copy's), and
/// it has none for 16-bit floats. So the storage is asked for in the tensor's own type and the
/// tensor's offset into it added; for other types there is no address.
/// </summary>
public static class TensorMemory
{
    /// <summary>
    /// The first element's address of <paramref name="tensor"/> (a contiguous CPU tensor), or false
    /// for element types TorchSharp has no storage type for (bfloat16, float16, int16, int8). Valid
    /// while the tensor's storage lives: the caller keeps the tensor alive meanwhile.
    /// </summary>
    public static bool TryAddress(Tensor tensor, out nint address)
    {
        address = 0;
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous()) return false;
        using var scope = NewDisposeScope(); // the alias TorchSharp's storage keeps of the tensor
        nint? storage = tensor.dtype switch
        {
            ScalarType.Float32 => StorageAddress(tensor.storage<float>()),
            ScalarType.Float64 => StorageAddress(tensor.storage<double>()),
            ScalarType.Byte => StorageAddress(tensor.storage<byte>()),
            ScalarType.Bool => StorageAddress(tensor.storage<bool>()),
            ScalarType.Int32 => StorageAddress(tensor.storage<int>()),
            ScalarType.Int64 => StorageAddress(tensor.storage<long>()),
            _ => null,
        };
        if (storage is not nint start) return false;
        address = start + (nint)(tensor.storage_offset() * tensor.ElementSize);
        return true;
    }

    /// <summary>As <see cref="TryAddress"/>, throwing where there is no address.</summary>
    public static nint Address(Tensor tensor) =>
        TryAddress(tensor, out var address) ? address
            : throw new ArgumentException($"no address for a {(tensor.is_contiguous() ? "" : "non-contiguous ")}{tensor.dtype} tensor on {tensor.device_type}");

    private static nint StorageAddress<T>(Storage<T> storage) where T : unmanaged
    {
        using (storage) return storage.data_ptr();
    }
}
