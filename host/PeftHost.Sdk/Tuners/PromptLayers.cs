using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>Building blocks of prompt encoders, created on the model's device in float32 (PEFT's default dtype).</summary>
public static class PromptLayers
{
    /// <summary>
    /// A <c>torch.nn.Linear(in, out)</c> with PyTorch's default init (weight kaiming-uniform with a = √5, bias
    /// U(−1/√in, 1/√in)), or zeros with <paramref name="zero"/>. Nothing is initialised on the meta device.
    /// </summary>
    public static Linear Linear(long inFeatures, long outFeatures, Device device, bool zero = false)
    {
        var weight = empty([outFeatures, inFeatures], ScalarType.Float32, device);
        var bias = empty([outFeatures], ScalarType.Float32, device);
        if (device.type != DeviceType.META)
        {
            using var _ = no_grad();
            if (zero)
            {
                weight.zero_();
                bias.zero_();
            }
            else
            {
                nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
                double bound = 1 / Math.Sqrt(inFeatures);
                bias.uniform_(-bound, bound);
            }
        }
        return nn.Linear(new Parameter(weight), new Parameter(bias));
    }
}
