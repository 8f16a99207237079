using PeftHost.Core.Models;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>What <see cref="KbitTraining.Prepare"/> changed.</summary>
/// <param name="Frozen">Parameters whose requires_grad was turned off.</param>
/// <param name="CastToFloat32">Half-precision parameters cast to float32.</param>
/// <param name="GradientCheckpointing">Whether activation recomputation was switched on.</param>
/// <param name="InputRequiresGrad">Whether the input embeddings now produce outputs that require grad.</param>
public sealed record KbitPreparation(int Frozen, IReadOnlyList<string> CastToFloat32, bool GradientCheckpointing, bool InputRequiresGrad);

/// <summary>
/// PEFT's <c>prepare_model_for_kbit_training</c>: freezes every base parameter, casts every
/// non-quantized fp16/bf16 parameter (norms, embeddings, output layer, biases) to float32 and,
/// with gradient checkpointing asked for and supported by the model, switches it on and makes the
/// input embeddings' output require grad so recomputed layers receive gradients.
/// </summary>
public static class KbitTraining
{
    /// <summary>Prepares <paramref name="model"/> (quantized or not) for adapter training.</summary>
    public static KbitPreparation Prepare(CausalLanguageModel model, bool useGradientCheckpointing = true)
    {
        int frozen = 0;
        foreach (var (_, p) in model.named_parameters())
        {
            if (p.requires_grad) frozen++;
            p.requires_grad_(false);
        }
        var cast = CastHalfParametersToFloat32(model);

        bool checkpointing = false, inputGrad = false;
        if (useGradientCheckpointing)
        {
            model.GradientCheckpointing = true;
            checkpointing = true;
            if (model.Model.EmbedTokens is not InputRequiresGradEmbedding)
                new ModelSurface(model).ReplaceModule("model.embed_tokens", new InputRequiresGradEmbedding(model.Model.EmbedTokens));
            inputGrad = true;
        }
        return new KbitPreparation(frozen, cast, checkpointing, inputGrad);
    }

    /// <summary>
    /// Casts every fp16/bf16 parameter outside the quantized layers to float32 with each module's own dtype conversion
    /// (<c>to(dtype)</c>), the path TorchSharp supports for replacing parameters: its <c>Linear</c> rebinds the fields its
    /// forward reads, and PeftHost's modules read their parameters from the registry it updates. The conversion also
    /// reaches a module's children; a quantized child converts only its bias (its codes never change dtype), as PEFT casts
    /// every parameter that is not quantized. Returns the names of the parameters cast.
    /// </summary>
    private static List<string> CastHalfParametersToFloat32(CausalLanguageModel model)
    {
        static bool IsHalf(Parameter p) => p.dtype is ScalarType.Float16 or ScalarType.BFloat16;
        var half = model.named_parameters().Where(p => IsHalf(p.parameter)).Select(p => p.name).ToHashSet(StringComparer.Ordinal);
        var holders = ModuleTree.Canonical(model)
            .Where(m => !QuantizedLayers.IsQuantized(m.Module) && m.Module.named_parameters(recurse: false).Any(p => IsHalf(p.parameter)))
            .Select(m => m.Module).ToList();
        foreach (var module in holders)
            if (module.named_parameters(recurse: false).Any(p => IsHalf(p.parameter))) // a parent's conversion may have reached it
                module.to(ScalarType.Float32);
        return model.named_parameters().Where(p => half.Contains(p.name) && p.parameter.dtype == ScalarType.Float32).Select(p => p.name).ToList();
    }
}
