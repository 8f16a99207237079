using PeftHost.Core.Quantization.Codecs;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training.Optimizers;

/// <summary>
/// AdamW with 8-bit optimizer state, as bitsandbytes' blockwise 8-bit Adam
/// (<c>kOptimizerStatic8bit2StateBlockwise</c>): per block of 256 elements the first moment m is
/// stored as uint8 codes of the signed dynamic map and the second moment v of the unsigned one,
/// each with a float32 absmax — about a quarter of float32 state. Each step dequantizes m and v,
/// updates them in float32 (m ← β1·m + (1−β1)g, v ← β2·v + (1−β2)g²), moves the parameter by
/// −lr·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + ε·√(1−β2ᵗ)), applies decoupled weight decay p ← p·(1 − lr·wd)
/// after the update (bitsandbytes' order), and re-quantizes m and v with fresh absmax values (a code
/// whose sign differs from m's is moved one step toward it). Non-finite gradient elements reset their
/// state and skip the update. Tensors smaller than <c>minEightBitSize</c> keep float32 state, as
/// bitsandbytes does (4096 by default).
/// </summary>
public sealed class AdamW8bit : IDisposable
{
    private sealed class Slot(string name, Tensor value, bool eightBit)
    {
        public string Name { get; } = name;
        public Tensor Value { get; } = value;
        public bool EightBit { get; } = eightBit;
        public long Steps { get; set; }
        public Tensor? First { get; set; }       // uint8 codes [blocks·blockSize] or float32 [n]
        public Tensor? Second { get; set; }
        public Tensor? FirstAbsmax { get; set; }  // float32 [blocks]
        public Tensor? SecondAbsmax { get; set; }

        public IEnumerable<Tensor> State => new[] { First, Second, FirstAbsmax, SecondAbsmax }.OfType<Tensor>();

        public void DisposeState()
        {
            foreach (var t in State) t.Dispose();
            First = Second = FirstAbsmax = SecondAbsmax = null;
        }
    }

    private static readonly Lazy<CodebookSearch> SignedSearch = new(() => new CodebookSearch(DynamicMap.Values(signed: true)));
    private static readonly Lazy<CodebookSearch> UnsignedSearch = new(() => new CodebookSearch(DynamicMap.Values(signed: false)));

    private readonly List<Slot> _slots;

    /// <summary>Creates the optimizer over named tensors (updated in place).</summary>
    /// <param name="tensors">The tensors to optimize: parameters, or float32 master copies.</param>
    /// <param name="weightDecay">Decoupled weight decay.</param>
    /// <param name="beta1">β1.</param>
    /// <param name="beta2">β2.</param>
    /// <param name="epsilon">ε.</param>
    /// <param name="blockSize">Elements per absmax block of the 8-bit state (bitsandbytes: 256).</param>
    /// <param name="minEightBitSize">Tensors with fewer elements keep float32 state (bitsandbytes: 4096).</param>
    public AdamW8bit(IEnumerable<(string Name, Tensor Value)> tensors, double weightDecay = 0.0, double beta1 = 0.9, double beta2 = 0.999,
        double epsilon = 1e-8, int blockSize = 256, long minEightBitSize = 4096)
    {
        if (blockSize <= 0) throw new ArgumentOutOfRangeException(nameof(blockSize));
        WeightDecay = weightDecay; Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; BlockSize = blockSize;
        _slots = tensors.Select(t => new Slot(t.Name, t.Value, t.Value.NumberOfElements >= minEightBitSize)).ToList();
        var duplicate = _slots.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"tensor '{duplicate.Key}' appears twice");
    }

    /// <summary>Decoupled weight decay.</summary>
    public double WeightDecay { get; }

    /// <summary>β1.</summary>
    public double Beta1 { get; }

    /// <summary>β2.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Elements per absmax block.</summary>
    public int BlockSize { get; }

    /// <summary>The optimized tensors' names, in order.</summary>
    public IReadOnlyList<string> Names => _slots.Select(s => s.Name).ToArray();

    /// <summary>Bytes of optimizer state held now (codes, absmax, and float32 state of small tensors).</summary>
    public long StateBytes => _slots.SelectMany(s => s.State).Sum(t => t.NumberOfElements * t.ElementSize);

    /// <summary>Bytes float32 AdamW would hold for the same tensors (two float32 moments each, once stepped).</summary>
    public long Float32StateBytes => _slots.Where(s => s.Steps > 0).Sum(s => 2 * 4 * s.Value.NumberOfElements);

    /// <summary>One step using each tensor's own <c>.grad</c>.</summary>
    public void Step(double learningRate) => Step(learningRate, _slots.Select(s => s.Value.grad).ToList());

    /// <summary>One step; <paramref name="gradients"/> align with <see cref="Names"/>, null entries are skipped.</summary>
    public void Step(double learningRate, IReadOnlyList<Tensor?> gradients)
    {
        if (gradients.Count != _slots.Count) throw new ArgumentException($"expected {_slots.Count} gradients, got {gradients.Count}");
        using var noGrad = no_grad();
        for (int i = 0; i < _slots.Count; i++)
        {
            var grad = gradients[i];
            if (grad is null) continue;
            var slot = _slots[i];
            slot.Steps++;
            using var scope = NewDisposeScope();
            float correction1 = (float)(1 - Math.Pow(Beta1, slot.Steps));
            float correction2 = (float)Math.Sqrt(1 - Math.Pow(Beta2, slot.Steps));
            float stepSize = -(float)learningRate * correction2 / correction1;

            var value = slot.Value;
            var g = grad.detach().to(ScalarType.Float32, value.device).reshape(-1);
            long n = g.shape[0];
            var (m, v) = slot.EightBit ? Dequantize(slot, g, n) : FloatState(slot, g);
            var finite = g.isfinite();
            g = where(finite, g, zeros_like(g));
            m = where(finite, m.mul(Beta1).add_(g, 1 - Beta1), zeros_like(m));
            v = where(finite, v.mul(Beta2).addcmul_(g, g, 1 - Beta2), zeros_like(v));

            var update = (m / (v.sqrt() + correction2 * Epsilon)).mul_(stepSize);
            update = where(finite, update, zeros_like(update));
            var updated = value.detach().to(ScalarType.Float32).reshape(-1).add(update);
            if (WeightDecay > 0) updated.mul_(1 - learningRate * WeightDecay);
            value.copy_(updated.view(value.shape).to(value.dtype));

            if (slot.EightBit) Requantize(slot, m, v);
            else
            {
                slot.First!.copy_(m);
                slot.Second!.copy_(v);
            }
        }
    }

    private (Tensor M, Tensor V) FloatState(Slot slot, Tensor g)
    {
        slot.First ??= zeros_like(g).DetachFromDisposeScope();
        slot.Second ??= zeros_like(g).DetachFromDisposeScope();
        return (slot.First.clone(), slot.Second.clone());
    }

    /// <summary>m and v [n] in float32 from their codes (zeros before the first step).</summary>
    private (Tensor M, Tensor V) Dequantize(Slot slot, Tensor g, long n)
    {
        if (slot.First is null) return (zeros_like(g), zeros_like(g));
        var signed = DynamicMap.Create(signed: true, g.device);
        var unsigned = DynamicMap.Create(signed: false, g.device);
        var m = Blockwise8Bit.Dequantize(slot.First, slot.FirstAbsmax!, signed, BlockSize).narrow(0, 0, n);
        var v = Blockwise8Bit.Dequantize(slot.Second!, slot.SecondAbsmax!, unsigned, BlockSize).narrow(0, 0, n);
        return (m, v);
    }

    private void Requantize(Slot slot, Tensor m, Tensor v)
    {
        var (firstCodes, firstAbsmax) = Blockwise8Bit.Quantize(m, SignedSearch.Value, BlockSize);
        var (secondCodes, secondAbsmax) = Blockwise8Bit.Quantize(v, UnsignedSearch.Value, BlockSize);
        // Keep m's sign: a code on the other side of zero moves one step toward it (bitsandbytes does the same).
        var signed = DynamicMap.Create(signed: true, m.device);
        var codeNegative = signed.index_select(0, firstCodes.to(ScalarType.Int32)).signbit();
        var mismatch = codeNegative.ne(m.signbit());
        var shifted = where(m.gt(0), firstCodes.to(ScalarType.Int32) + 1, firstCodes.to(ScalarType.Int32) - 1).remainder(256);
        firstCodes = where(mismatch, shifted, firstCodes.to(ScalarType.Int32)).to(ScalarType.Byte);
        slot.DisposeState();
        slot.First = firstCodes.DetachFromDisposeScope();
        slot.FirstAbsmax = firstAbsmax.DetachFromDisposeScope();
        slot.Second = secondCodes.DetachFromDisposeScope();
        slot.SecondAbsmax = secondAbsmax.DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var slot in _slots) slot.DisposeState();
    }
}
