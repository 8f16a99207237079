using System.Text.Json.Nodes;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Quantization;

/// <summary>
/// A linear layer holding only its quantized weight — bitsandbytes' <c>Linear4bit</c> for nf4/fp4,
/// and the same for int8 — and dequantizing it inside forward, never keeping a full-precision copy:
/// with autograd on, <see cref="QuantizedMatMul"/> dequantizes again in backward instead of saving
/// the weight. The packed weight is the frozen parameter <c>weight</c> (uint8, so PEFT-style
/// counting gives 2 × bytes; int8 codes are stored as int8), the quant state lives in buffers named
/// as bitsandbytes names them in a state dict (<c>weight.absmax</c>, <c>weight.quant_map</c>,
/// <c>weight.nested_absmax</c>, <c>weight.nested_quant_map</c>,
/// <c>weight.quant_state.bitsandbytes__nf4</c>), so the module's state dict is bitsandbytes' layout.
/// Input is cast to the compute dtype, the output back to the input's dtype, as <c>Linear4bit</c> does.
/// </summary>
public sealed class QuantizedLinear : CanonicalModule<Tensor, Tensor>, ILinearLayer
{
    /// <summary>Prefix of the state buffers.</summary>
    public const string StatePrefix = "weight.";

    private readonly IQuantizer _quantizer;
    private readonly string _quantType;
    private readonly long[] _shape;
    private readonly ScalarType _originalDtype;
    private JsonObject _quantState;

    /// <summary>Wraps <paramref name="weight"/> and <paramref name="bias"/> (sharing their storage; a <see cref="Parameter"/> bias is kept as it is).</summary>
    public QuantizedLinear(IQuantizer quantizer, QuantizedTensor weight, Tensor? bias, ScalarType computeDtype)
        : base(weight.QuantType == "int8" ? "Linear8bitLt" : "Linear4bit")
    {
        if (weight.Shape.Length != 2) throw new ArgumentException($"a linear weight must be 2-D, got [{string.Join(", ", weight.Shape)}]");
        _quantizer = quantizer;
        _quantType = weight.QuantType;
        _shape = weight.Shape;
        _originalDtype = weight.OriginalDtype;
        _quantState = weight.QuantState;
        ComputeDtype = computeDtype;
        // The layer holds its own handles on the storage: the caller may dispose its QuantizedTensor.
        register_parameter("weight", new Parameter(StoredCodes(weight.Data.detach()), requires_grad: false));
        foreach (var (key, tensor) in weight.State) register_buffer(BufferName(key), tensor.detach());
        if (bias is not null)
        {
            if (bias.shape.Length != 1 || bias.shape[0] != OutFeatures)
                throw new ArgumentException($"bias has shape [{string.Join(", ", bias.shape)}], expected [{OutFeatures}]");
            register_parameter("bias", bias as Parameter ?? new Parameter(bias.detach(), requires_grad: bias.requires_grad));
        }
    }

    /// <summary>The scheme: nf4, fp4 or int8.</summary>
    public string QuantType => _quantType;

    /// <summary>The dtype forward computes in.</summary>
    public ScalarType ComputeDtype { get; }

    /// <summary>The dtype of the weight before quantization (dequantization restores it first, as bitsandbytes does).</summary>
    public ScalarType OriginalDtype => _originalDtype;

    /// <summary>The JSON quant state (bitsandbytes' non-tensor <c>QuantState</c> fields).</summary>
    public JsonObject QuantStateJson => _quantState;

    /// <inheritdoc />
    public long InFeatures => _shape[1];

    /// <inheritdoc />
    public long OutFeatures => _shape[0];

    /// <inheritdoc />
    public Tensor? Bias => FindParameter("bias");

    /// <summary>The packed codes parameter.</summary>
    public Parameter PackedWeight => FindParameter("weight")!;

    /// <summary>The quantized weight as a <see cref="QuantizedTensor"/> view over the layer's own tensors (do not dispose it).</summary>
    public QuantizedTensor Quantized()
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var (name, buffer) in named_buffers(recurse: false))
            state[name.StartsWith(StatePrefix, StringComparison.Ordinal) ? name[StatePrefix.Length..] : name] = buffer;
        return new QuantizedTensor(_quantType, _shape, _originalDtype, PackedWeight, state, _quantState);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var input = x.dtype == ComputeDtype ? x : x.to(ComputeDtype);
        var bias = Bias;
        var b = bias is null ? null : bias.dtype == ComputeDtype ? bias : bias.to(ComputeDtype);
        bool track = is_grad_enabled() && (input.requires_grad || (b?.requires_grad ?? false));
        Tensor y;
        if (track) y = QuantizedMatMul.Apply(input, this, b);
        else y = Project(input, b);
        if (y.dtype != x.dtype) y = y.to(x.dtype);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// x·Wᵀ + b in <paramref name="input"/>'s dtype: for a few rows on the CPU straight from the 4-bit
    /// codes (<see cref="FourBitMatVec"/>), otherwise dequantizing W by bands of rows (<see cref="RowBands"/>)
    /// where its rows hold whole blocks, or whole.
    /// </summary>
    internal Tensor Project(Tensor input, Tensor? bias)
    {
        var quantized = Quantized();
        if (FourBitMatVec.Applies(quantized, input)) return FourBitMatVec.Linear(quantized, input, bias);
        using var bands = RowBands.TryCreate(quantized, _quantizer);
        if (bands is not null) return bands.Linear(input, bias);
        using var weight = DequantizedWeight(input.dtype);
        return F.linear(input, weight, bias);
    }

    /// <summary>∂y·W for <paramref name="gradOutput"/> [..., out], dequantizing W by bands of rows where it can.</summary>
    internal Tensor InputGradient(Tensor gradOutput)
    {
        using var bands = RowBands.TryCreate(Quantized(), _quantizer);
        if (bands is not null) return bands.InputGradient(gradOutput);
        using var weight = DequantizedWeight(gradOutput.dtype);
        return gradOutput.matmul(weight);
    }

    /// <summary>
    /// The weight [out, in] in <paramref name="dtype"/>: dequantized to the original dtype, then
    /// cast (bitsandbytes' <c>dequantize_4bit(...).to(A.dtype)</c>). The caller disposes it.
    /// </summary>
    public Tensor DequantizedWeight(ScalarType dtype)
    {
        using var noGrad = no_grad();
        var w = _quantizer.Dequantize(Quantized(), _originalDtype);
        if (w.dtype == dtype) return w;
        var cast = w.to(dtype);
        w.Dispose();
        return cast;
    }

    /// <inheritdoc />
    public Tensor ReadWeight(ScalarType dtype) => DequantizedWeight(dtype);

    /// <inheritdoc />
    public void WriteWeight(Tensor weight)
    {
        if (!weight.shape.SequenceEqual(_shape))
            throw new ArgumentException($"weight has shape [{string.Join(", ", weight.shape)}], the layer [{string.Join(", ", _shape)}]");
        using var noGrad = no_grad();
        var options = QuantizedState.Options(Quantized(), ComputeDtype);
        using var source = weight.detach().to(_originalDtype, PackedWeight.device);
        using var requantized = _quantizer.Quantize(source, options);
        using (var codes = StoredCodes(requantized.Data)) PackedWeight.copy_(codes);
        var current = named_buffers(recurse: false).ToDictionary(b => b.name, b => b.buffer);
        foreach (var (key, tensor) in requantized.State)
        {
            string name = BufferName(key);
            if (current.TryGetValue(name, out var existing) && existing.shape.SequenceEqual(tensor.shape) && existing.dtype == tensor.dtype)
                existing.copy_(tensor);
            else
            {
                _internal_buffers.Remove(name);
                existing?.Dispose();
                // Out of any dispose scope the caller runs in (an adapter's merge step does): the
                // buffer belongs to the layer, and a disposed one drops out of the state dict.
                register_buffer(name, tensor.clone().DetachFromDisposeScope());
            }
        }
        _quantState = requantized.QuantState;
    }

    /// <summary>Moves the layer between devices; a dtype change applies to the bias only, never to the quantized state.</summary>
    protected override void _toEpilog(ScalarType? dtype, Device? device, bool non_blocking)
    {
        if (device is not null) base._toEpilog(null, device, non_blocking);
        if (dtype is ScalarType target && Bias is Parameter bias && bias.dtype != target && torch.is_floating_point(bias))
        {
            var converted = new Parameter(bias.detach().to(target), bias.requires_grad);
            _internal_params.Remove("bias");
            register_parameter("bias", converted);
        }
    }

    private Parameter? FindParameter(string name)
    {
        foreach (var (n, p) in named_parameters(recurse: false))
            if (n == name) return p;
        return null;
    }

    /// <summary>
    /// The buffer a state tensor is registered as, named as in bitsandbytes' state dict: 4-bit state
    /// under the weight (<c>weight.absmax</c>, …), LLM.int8's on the module (<c>SCB</c>, <c>weight_format</c>).
    /// </summary>
    private string BufferName(string key) => _quantType == "int8" ? key : StatePrefix + key;

    // int8 codes are kept as int8 (same bits) so that parameter counting does not double them.
    private Tensor StoredCodes(Tensor data) => _quantType == "int8" && data.dtype == ScalarType.Byte ? data.to(ScalarType.Int8) : data;
}
