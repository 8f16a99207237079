namespace PeftHost.Core.Export.Gguf;

/// <summary>The ggml tensor types PeftHost writes (numbers from ggml's <c>ggml_type</c>).</summary>
public enum GgmlType : uint
{
    /// <summary>32-bit float.</summary>
    F32 = 0,
    /// <summary>IEEE half.</summary>
    F16 = 1,
    /// <summary>Blocks of 32: an f16 scale d and 16 bytes of 4-bit codes q, value = d·(q − 8).</summary>
    Q4_0 = 2,
    /// <summary>Blocks of 32: an f16 scale d and 32 int8 codes q, value = d·q.</summary>
    Q8_0 = 8,
    /// <summary>bfloat16.</summary>
    BF16 = 30,
}

/// <summary>Sizes and names of the ggml types.</summary>
public static class GgmlTypes
{
    /// <summary>The names <c>--type</c> accepts, as llama.cpp spells them.</summary>
    public static readonly IReadOnlyDictionary<string, GgmlType> ByName = new Dictionary<string, GgmlType>(StringComparer.Ordinal)
    {
        ["f32"] = GgmlType.F32,
        ["f16"] = GgmlType.F16,
        ["bf16"] = GgmlType.BF16,
        ["q8_0"] = GgmlType.Q8_0,
        ["q4_0"] = GgmlType.Q4_0,
    };

    /// <summary>The type named <paramref name="name"/>, or an error listing the names.</summary>
    public static GgmlType Parse(string name) => ByName.TryGetValue(name.ToLowerInvariant(), out var t) ? t
        : throw new ArgumentException($"unknown GGUF type '{name}'; expected one of {string.Join(", ", ByName.Keys)}");

    /// <summary>The lower-case name of <paramref name="type"/>.</summary>
    public static string Name(GgmlType type) => ByName.First(kv => kv.Value == type).Key;

    /// <summary>Elements per block and bytes per block (gguf-py's <c>GGML_QUANT_SIZES</c>).</summary>
    public static (int BlockSize, int TypeSize) BlockLayout(GgmlType type) => type switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 or GgmlType.BF16 => (1, 2),
        GgmlType.Q8_0 => (32, 34),
        GgmlType.Q4_0 => (32, 18),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Bytes of a tensor of <paramref name="shape"/> (PyTorch order) in <paramref name="type"/>.</summary>
    public static long ByteSize(GgmlType type, long[] shape)
    {
        var (block, size) = BlockLayout(type);
        long elements = shape.Aggregate(1L, (a, b) => a * b);
        if (shape.Length == 0 || shape[^1] % block != 0)
            throw new ArgumentException($"a row of {(shape.Length == 0 ? 0 : shape[^1])} elements is not a whole number of {Name(type)} blocks of {block}");
        return elements / block * size;
    }

    /// <summary>
    /// llama.cpp's <c>general.file_type</c> (<c>llama_ftype</c>) for a file mostly in <paramref name="type"/>:
    /// ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7, MOSTLY_BF16 32.
    /// </summary>
    public static uint FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q4_0 => 2,
        GgmlType.Q8_0 => 7,
        GgmlType.BF16 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
