using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// Two 4-bit codes per byte, as bitsandbytes packs them: element 2k in the high nibble, element
/// 2k+1 in the low nibble; an odd count leaves one padding nibble at the end.
/// </summary>
public static class NibblePacking
{
    /// <summary>Packs codes [m] (uint8, m even) into bytes [m/2].</summary>
    public static Tensor Pack(Tensor codes)
    {
        if (codes.NumberOfElements % 2 != 0) throw new ArgumentException("pack needs an even number of codes");
        using var scope = NewDisposeScope();
        var pairs = codes.reshape(-1, 2);
        var packed = pairs[.., 0].Times(16).Plus(pairs[.., 1]);
        return packed.to(ScalarType.Byte).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Unpacks bytes [k] into codes [2k] (uint8): high nibble first.</summary>
    public static Tensor Unpack(Tensor packed)
    {
        using var scope = NewDisposeScope();
        var flat = packed.reshape(-1);
        using var sixteen = 16.ToScalar();
        var high = flat.div(sixteen, RoundingMode.floor);
        var low = flat.remainder(sixteen);
        return stack([high, low], 1).reshape(-1).to(ScalarType.Byte).MoveToOuterDisposeScope();
    }
}
