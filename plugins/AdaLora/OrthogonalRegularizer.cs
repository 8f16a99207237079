using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Plugins.AdaLora;

/// <summary>
/// AdaLoRA's orthogonal regulariser, added to the training loss as PEFT's <c>AdaLoraModel.forward</c> adds it:
/// orth_reg_weight · mean over the trainable adapter's matrices of ‖AAᵀ − I‖_F (for every lora_A) and
/// ‖BᵀB − I‖_F (for every lora_B).
/// </summary>
public sealed class OrthogonalRegularizer(AdaLoraAdapter adapter) : ILossTerm
{
    /// <inheritdoc />
    public string AdapterName => adapter.Name;

    /// <inheritdoc />
    /// <remarks>Null when the adapter is not training (inference-only or frozen) or the weight is 0.</remarks>
    public Tensor? Compute()
    {
        double weight = adapter.AdaLoraConfig.OrthRegWeight;
        if (weight <= 0 || adapter.Layers.Count == 0) return null;
        if (!adapter.Layers[0].Layer.LoraA(adapter.Name).requires_grad) return null;
        using var scope = NewDisposeScope();
        Tensor? sum = null;
        int count = 0;
        foreach (var (_, layer) in adapter.Layers)
        {
            var a = layer.LoraA(adapter.Name);
            var b = layer.LoraB(adapter.Name);
            foreach (var cov in new[] { a.matmul(a.t()), b.t().matmul(b) })
            {
                var identity = eye(cov.shape[0], dtype: ScalarType.Float32, device: cov.device);
                var term = linalg.matrix_norm(cov - identity, "fro");
                sum = sum is null ? term : sum.Plus(term);
                count++;
            }
        }
        return sum!.Times(weight / count).MoveToOuterDisposeScope();
    }
}
