using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Quantization;

/// <summary>
/// y = x·Wᵀ + b with W dequantized from a <see cref="QuantizedLinear"/> in forward and again in
/// backward (bitsandbytes' <c>MatMul4Bit</c>), a band of rows at a time: the autograd graph keeps
/// the layer, not a full-precision weight. Gradients flow to the input and the bias; the quantized weight is frozen.
/// </summary>
internal sealed class QuantizedMatMul : autograd.SingleTensorFunction<QuantizedMatMul>
{
    /// <inheritdoc />
    public override string Name => "QuantizedMatMul";

    /// <summary>Applies the function; <paramref name="input"/> is already in the compute dtype.</summary>
    public static Tensor Apply(Tensor input, QuantizedLinear layer, Tensor? bias) =>
        apply(input, layer, bias!, input.requires_grad, bias?.requires_grad ?? false);

    /// <inheritdoc />
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var input = (Tensor)vars[0];
        var layer = (QuantizedLinear)vars[1];
        var bias = vars[2] as Tensor;
        ctx.save_data("layer", layer);
        ctx.save_data("input_grad", (bool)vars[3]);
        ctx.save_data("bias_grad", (bool)vars[4]);
        return layer.Project(input, bias);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var layer = (QuantizedLinear)ctx.get_data("layer");
        using var scope = NewDisposeScope();
        Tensor? gradInput = null, gradBias = null;
        if ((bool)ctx.get_data("input_grad"))
        {
            gradInput = layer.InputGradient(gradOutput).MoveToOuterDisposeScope();
        }
        if ((bool)ctx.get_data("bias_grad"))
            gradBias = gradOutput.reshape(-1, gradOutput.shape[^1]).sum(0).MoveToOuterDisposeScope();
        return [gradInput!, null!, gradBias!, null!, null!];
    }
}
