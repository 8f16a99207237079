using static TorchSharp.torch;

namespace PeftHost.Core.Checkpoints;

/// <summary>Maps safetensors dtype names to torch dtypes and element sizes.</summary>
public static class SafeTensorsDtype
{
    private static readonly Dictionary<string, (ScalarType Type, int Size)> ByName = new()
    {
        ["F64"] = (ScalarType.Float64, 8),
        ["F32"] = (ScalarType.Float32, 4),
        ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2),
        ["I64"] = (ScalarType.Int64, 8),
        ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2),
        ["I8"] = (ScalarType.Int8, 1),
        ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    /// <summary>The torch dtype and byte size of <paramref name="name"/>, or false if unsupported.</summary>
    public static bool TryParse(string name, out ScalarType type, out int size)
    {
        if (ByName.TryGetValue(name, out var v)) { type = v.Type; size = v.Size; return true; }
        type = default; size = 0;
        return false;
    }

    /// <summary>The safetensors name of <paramref name="type"/>.</summary>
    public static string NameOf(ScalarType type) =>
        ByName.FirstOrDefault(kv => kv.Value.Type == type).Key
        ?? throw new ArgumentException($"dtype {type} cannot be stored in safetensors");

    /// <summary>Supported names, for messages.</summary>
    public static IEnumerable<string> Names => ByName.Keys;
}
