using System.Reflection;
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

    private static List<string> CastHalfParametersToFloat32(CausalLanguageModel model)
    {
        var cast = new List<string>();
        foreach (var (path, module) in ModuleTree.Canonical(model))
        {
            if (QuantizedLayers.IsQuantized(module)) continue;
            foreach (var (name, p) in module.named_parameters(recurse: false).ToList())
            {
                if (p.dtype is not (ScalarType.Float16 or ScalarType.BFloat16)) continue;
                var replacement = new Parameter(p.detach().to(ScalarType.Float32), p.requires_grad);
                ParameterSwap.Replace(module, name, p, replacement);
                cast.Add(path.Length == 0 ? name : $"{path}.{name}");
            }
        }
        return cast;
    }
}
