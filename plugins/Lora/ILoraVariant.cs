using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.Lora;

/// <summary>
/// PEFT's <c>LoraVariant</c>: an adapter kind that changes how a <see cref="LoraLayer"/> sets up, runs and merges
/// one adapter (DoRA is one: <see cref="DoraVariant"/>). A plain LoRA adapter has no variant; the layer's own maths
/// (h = base(x) + scaling·B·A·x, W' = W + ΔW) apply to it. The layer keeps one variant object per adapter.
/// </summary>
internal interface ILoraVariant
{
    /// <summary>The variant's name in messages ("DoRA").</summary>
    string Name { get; }

    /// <summary>Sets up the variant's own tensors once A and B are initialised (PEFT's <c>init</c>).</summary>
    void Init(LoraLayer layer, string adapter, LoraAdapterSettings settings, Parameter a, Parameter b, ScalarType dtype, bool trainable);

    /// <summary>The merged base weight (float32) from the base weight <paramref name="weight"/> and ΔW <paramref name="delta"/> (PEFT's <c>merge_safe</c>).</summary>
    Tensor Merge(LoraLayer layer, string adapter, Tensor weight, Tensor delta);

    /// <summary>The base weight before <see cref="Merge"/> from the merged one (PEFT's <c>unmerge</c>).</summary>
    Tensor Unmerge(LoraLayer layer, string adapter, Tensor merged, Tensor delta);

    /// <summary>What the adapter adds to the base layer's output <paramref name="baseResult"/> for input <paramref name="x"/> (PEFT's <c>forward</c>).</summary>
    Tensor Forward(LoraLayer layer, string adapter, LoraAdapterSettings settings, Tensor x, Tensor baseResult);

    /// <summary>Releases the variant's tensors when the adapter leaves the layer.</summary>
    void Drop(LoraLayer layer, string adapter);
}
