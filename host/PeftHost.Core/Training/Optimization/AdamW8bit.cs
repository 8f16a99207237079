using PeftHost.Core.Quantization.Codecs;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training.Optimization;

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
/// bitsandbytes does (4096 by default). State is saved under bitsandbytes' names: <c>{name}.state1</c>
/// and <c>{name}.state2</c> (uint8 codes, or float32 for small tensors) and <c>{name}.absmax1</c>,
/// <c>{name}.absmax2</c>.
/// </summary>
public sealed class AdamW8bit : IOptimizer
{
    // Parts of each tensor's state: m and v (uint8 codes, or float32 for small tensors), and for 8-bit state their absmax per block.
    private const int First = 0, Second = 1, FirstAbsmax = 2, SecondAbsmax = 3;
    private readonly OptimizerSlots _slots = new(["state1", "state2", "absmax1", "absmax2"]);

    private static readonly Lazy<CodebookSearch> SignedSearch = new(() => new CodebookSearch(DynamicMap.Values(signed: true)));
    private static readonly Lazy<CodebookSearch> UnsignedSearch = new(() => new CodebookSearch(DynamicMap.Values(signed: false)));

    private readonly long _minEightBitSize;

    /// <summary>Creates the optimizer over <paramref name="groups"/> (tensors updated in place: parameters, or float32 master copies).</summary>
    /// <param name="groups">The tensors with their weight decay and learning-rate scale.</param>
    /// <param name="beta1">β1.</param>
    /// <param name="beta2">β2.</param>
    /// <param name="epsilon">ε.</param>
    /// <param name="blockSize">Elements per absmax block of the 8-bit state (bitsandbytes: 256).</param>
    /// <param name="minEightBitSize">Tensors with fewer elements keep float32 state (bitsandbytes: 4096).</param>
    public AdamW8bit(IEnumerable<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.999,
        double epsilon = 1e-8, int blockSize = 256, long minEightBitSize = 4096)
    {
        if (blockSize <= 0) throw new ArgumentOutOfRangeException(nameof(blockSize));
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; BlockSize = blockSize;
        _minEightBitSize = minEightBitSize;
        _slots.Bind(groups);
    }

    /// <inheritdoc />
    public string Kind => Optimizers.AdamW8bit;

    /// <inheritdoc />
    public double Beta1 { get; }

    /// <inheritdoc />
    public double Beta2 { get; }

    /// <inheritdoc />
    public double Epsilon { get; }

    /// <summary>Elements per absmax block.</summary>
    public int BlockSize { get; }

    /// <summary>The optimized tensors' names, in order.</summary>
    public IReadOnlyList<string> Names => _slots.Names;

    /// <summary>Bytes of optimizer state held now (codes, absmax, and float32 state of small tensors).</summary>
    public long StateBytes => _slots.StateBytes;

    /// <summary>Bytes float32 AdamW would hold for the same tensors (two float32 moments each, once stepped).</summary>
    public long Float32StateBytes => _slots.All.Where(s => s.Steps > 0).Sum(s => 2 * 4 * s.Tensor.Value.NumberOfElements);

    /// <summary>
    /// Elements per piece of an 8-bit tensor's step, a multiple of every block size up to 1024. Each piece is decoded,
    /// updated and re-encoded on its own (blocks never straddle two pieces, so the result is the same), so the float32
    /// moments and the temporaries exist for one piece at a time: on a ~100M model the whole-tensor step of the
    /// embedding (6.3M values) raised the peak 650 MB above the resident size, more than 8-bit state saved.
    /// </summary>
    private const long PieceElements = 1L << 20;

    /// <inheritdoc />
    public void Step(double learningRate, IReadOnlyDictionary<string, Tensor> gradients)
    {
        using var noGrad = no_grad();
        foreach (var slot in _slots.All)
        {
            if (!gradients.TryGetValue(slot.Tensor.Name, out var grad)) continue;
            slot.Steps++;
            double lr = learningRate * slot.Group.LearningRateScale;
            float correction1 = (float)(1 - Math.Pow(Beta1, slot.Steps));
            float correction2 = (float)Math.Sqrt(1 - Math.Pow(Beta2, slot.Steps));
            var update = new UpdateRule(correction2, StepSize: -(float)lr * correction2 / correction1,
                Decay: slot.Group.WeightDecay > 0 ? 1 - lr * slot.Group.WeightDecay : null);
            var value = slot.Tensor.Value;
            if (!IsEightBit(slot))
            {
                using var scope = NewDisposeScope();
                var g = grad.detach().to(ScalarType.Float32, value.device).reshape(-1);
                var m = slot[First] ??= zeros_like(g).DetachFromDisposeScope();
                var v = slot[Second] ??= zeros_like(g).DetachFromDisposeScope();
                var (newM, newV, updated) = Apply(update, value.detach().to(ScalarType.Float32).reshape(-1), g, m, v);
                value.copy_(updated.view(value.shape).to(value.dtype));
                m.copy_(newM);
                v.copy_(newV);
                continue;
            }
            StepEightBit(slot, value, grad, update);
        }
    }

    /// <summary>The step's constants for one tensor: √(1−β2ᵗ), the signed step size, and the decay factor (null without weight decay).</summary>
    private readonly record struct UpdateRule(float Correction2, float StepSize, double? Decay);

    /// <summary>One 8-bit tensor's step, piece by piece (<see cref="PieceElements"/>), its codes and absmax rewritten in place.</summary>
    private void StepEightBit(OptimizerSlot slot, Tensor value, Tensor grad, UpdateRule update)
    {
        long n = value.NumberOfElements;
        long blocks = (n + BlockSize - 1) / BlockSize;
        bool fresh = slot[First] is null; // first step: m = v = 0
        if (fresh)
        {
            slot[First] = empty(n, ScalarType.Byte, value.device).DetachFromDisposeScope();
            slot[Second] = empty(n, ScalarType.Byte, value.device).DetachFromDisposeScope();
            slot[FirstAbsmax] = empty(blocks, ScalarType.Float32, value.device).DetachFromDisposeScope();
            slot[SecondAbsmax] = empty(blocks, ScalarType.Float32, value.device).DetachFromDisposeScope();
        }
        // Written through a flat view: parameters and master copies are contiguous (a view of anything else would be a copy).
        if (!value.is_contiguous())
            throw new InvalidOperationException($"8-bit AdamW updates '{slot.Tensor.Name}' in place and needs it contiguous");
        var flatValue = value.detach().view(-1);
        var flatGrad = grad.detach().reshape(-1);
        long piece = PieceElements / BlockSize * BlockSize;
        for (long start = 0; start < n; start += piece)
        {
            using var scope = NewDisposeScope();
            long length = Math.Min(piece, n - start);
            long firstBlock = start / BlockSize, blockCount = (length + BlockSize - 1) / BlockSize;
            var codes1 = slot[First]!.narrow(0, start, length);
            var codes2 = slot[Second]!.narrow(0, start, length);
            var absmax1 = slot[FirstAbsmax]!.narrow(0, firstBlock, blockCount);
            var absmax2 = slot[SecondAbsmax]!.narrow(0, firstBlock, blockCount);
            var g = flatGrad.narrow(0, start, length).to(ScalarType.Float32, value.device);
            var (m, v) = fresh ? (zeros_like(g), zeros_like(g)) : Dequantize(codes1, absmax1, codes2, absmax2, g.device);
            var target = flatValue.narrow(0, start, length);
            var (newM, newV, updated) = Apply(update, target.to(ScalarType.Float32), g, m, v);
            target.copy_(updated.to(value.dtype));
            Requantize(newM, newV, codes1, absmax1, codes2, absmax2);
        }
    }

    /// <summary>AdamW on float32 <paramref name="values"/>: the new m, v and values. Non-finite gradient elements reset their state and move nothing.</summary>
    private (Tensor M, Tensor V, Tensor Values) Apply(UpdateRule rule, Tensor values, Tensor g, Tensor m, Tensor v)
    {
        using var beta1 = Beta1.ToScalar();
        using var oneMinusBeta1 = (1 - Beta1).ToScalar();
        using var beta2 = Beta2.ToScalar();
        using var oneMinusBeta2 = (1 - Beta2).ToScalar();
        using var stepSize = rule.StepSize.ToScalar();
        var finite = g.isfinite();
        g = where(finite, g, zeros_like(g));
        m = where(finite, m.mul(beta1).add_(g, oneMinusBeta1), zeros_like(m));
        v = where(finite, v.mul(beta2).addcmul_(g, g, oneMinusBeta2), zeros_like(v));
        var step = (m / v.sqrt().Plus(rule.Correction2 * Epsilon)).mul_(stepSize);
        step = where(finite, step, zeros_like(step));
        var updated = values.Plus(step);
        if (rule.Decay is double decay)
        {
            using var decayScalar = decay.ToScalar();
            updated.mul_(decayScalar);
        }
        return (m, v, updated);
    }

    /// <inheritdoc />
    public (IReadOnlyList<KeyValuePair<string, Tensor>> Tensors, IReadOnlyDictionary<string, long> Steps) State() => _slots.State();

    /// <inheritdoc />
    public void LoadState(Func<string, Tensor?> read, IReadOnlyDictionary<string, long> steps) => _slots.LoadState(steps, slot =>
    {
        long n = slot.Tensor.Value.NumberOfElements;
        long blocks = (n + BlockSize - 1) / BlockSize;
        bool eightBit = IsEightBit(slot);
        var stateType = eightBit ? ScalarType.Byte : ScalarType.Float32;
        slot[First] = Load(read, slot.Key(First), stateType, n);
        slot[Second] = Load(read, slot.Key(Second), stateType, n);
        if (!eightBit) return;
        slot[FirstAbsmax] = Load(read, slot.Key(FirstAbsmax), ScalarType.Float32, blocks);
        slot[SecondAbsmax] = Load(read, slot.Key(SecondAbsmax), ScalarType.Float32, blocks);
    });

    /// <inheritdoc />
    public void Rebind(IEnumerable<ParameterGroup> groups) => _slots.Rebind(groups);

    /// <summary>Whether <paramref name="slot"/>'s tensor is large enough for 8-bit state.</summary>
    private bool IsEightBit(OptimizerSlot slot) => slot.Tensor.Value.NumberOfElements >= _minEightBitSize;

    private static Tensor Load(Func<string, Tensor?> read, string key, ScalarType dtype, long elements)
    {
        var saved = read(key) ?? throw new InvalidDataException($"optimizer state has no tensor '{key}'");
        if (saved.dtype != dtype || saved.NumberOfElements != elements)
            throw new InvalidDataException($"optimizer state '{key}' holds {saved.NumberOfElements} {saved.dtype} values, expected {elements} {dtype}");
        return saved.reshape(-1).DetachFromDisposeScope();
    }

    /// <summary>m and v in float32 from a piece's codes and absmax.</summary>
    private (Tensor M, Tensor V) Dequantize(Tensor codes1, Tensor absmax1, Tensor codes2, Tensor absmax2, Device device)
    {
        var signed = DynamicMap.Create(signed: true, device);
        var unsigned = DynamicMap.Create(signed: false, device);
        return (Blockwise8Bit.Dequantize(codes1.to(device), absmax1.to(device), signed, BlockSize),
                Blockwise8Bit.Dequantize(codes2.to(device), absmax2.to(device), unsigned, BlockSize));
    }

    /// <summary>Encodes a piece's m and v into its codes and absmax (views of the state, written in place).</summary>
    private void Requantize(Tensor m, Tensor v, Tensor codes1, Tensor absmax1, Tensor codes2, Tensor absmax2)
    {
        var (firstCodes, firstAbsmax) = Blockwise8Bit.Quantize(m, SignedSearch.Value, BlockSize);
        var (secondCodes, secondAbsmax) = Blockwise8Bit.Quantize(v, UnsignedSearch.Value, BlockSize);
        // Keep m's sign: a code on the other side of zero moves one step toward it (bitsandbytes does the same).
        var signed = DynamicMap.Create(signed: true, m.device);
        var codeNegative = signed.index_select(0, firstCodes.to(ScalarType.Int32)).signbit();
        var mismatch = codeNegative.ne(m.signbit());
        using var zero = 0.ToScalar();
        using var codeCount = 256.ToScalar();
        var shifted = where(m.gt(zero), firstCodes.to(ScalarType.Int32).Plus(1), firstCodes.to(ScalarType.Int32).Minus(1)).remainder(codeCount);
        firstCodes = where(mismatch, shifted, firstCodes.to(ScalarType.Int32)).to(ScalarType.Byte);
        codes1.copy_(firstCodes);
        absmax1.copy_(firstAbsmax);
        codes2.copy_(secondCodes);
        absmax2.copy_(secondAbsmax);
    }

    /// <inheritdoc />
    public void Dispose() => _slots.Dispose();
}
