using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;

namespace PeftHost.Plugins.Lora;

/// <summary>
/// DoRA's learnable magnitude vector for one adapter: a parameter named <c>weight</c> [out], as PEFT's
/// <c>DoraLinearLayer</c> holds it (module path <c>…lora_magnitude_vector.{adapter}.weight</c>; PEFT saves it
/// as <c>…lora_magnitude_vector</c>, the <c>.weight</c> dropped).
/// </summary>
public sealed class DoraMagnitude : CanonicalModule
{
    /// <summary>Wraps <paramref name="magnitude"/> [out].</summary>
    public DoraMagnitude(Parameter magnitude) : base("lora.dora")
    {
        register_parameter("weight", magnitude);
    }

    /// <summary>The magnitude vector [out] (looked up live, so it survives moves between devices and dtypes).</summary>
    public Parameter Weight => get_parameter("weight")!;
}
