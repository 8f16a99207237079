using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Peft;

/// <summary>Counts parameters exactly as PEFT's <c>get_nb_trainable_parameters</c> does.</summary>
public static class ParameterCounter
{
    /// <summary>(trainable, all) over <paramref name="model"/>'s parameters.</summary>
    public static (long Trainable, long All) Count(nn.Module model)
    {
        long trainable = 0, all = 0;
        foreach (var (_, p) in model.named_parameters())
        {
            long n = p.NumberOfElements;
            // bitsandbytes stores 4-bit weights packed two per uint8 byte; PEFT counts 2 × bytes.
            if (p.dtype == ScalarType.Byte) n *= 2;
            all += n;
            if (p.requires_grad) trainable += n;
        }
        return (trainable, all);
    }

    /// <summary><c>trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622</c></summary>
    public static string Format(long trainable, long all) => string.Create(CultureInfo.InvariantCulture,
        $"trainable params: {trainable:N0} || all params: {all:N0} || trainable%: {(all == 0 ? 0 : 100.0 * trainable / all):F4}");
}
