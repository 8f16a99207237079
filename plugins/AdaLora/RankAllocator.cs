using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.AdaLora;

/// <summary>
/// AdaLoRA's rank allocator (PEFT's <c>RankAllocator</c>): keeps the importance of every entry of A, E and B
/// (sensitivity I = |p·∇p| smoothed with an EMA of <c>beta1</c>, uncertainty U = EMA of |I − Ī| with <c>beta2</c>;
/// score Ī·Ū), scores each triplet i of a module as score(E_i) + mean of row i of score(A) + mean of column i of
/// score(B), and zeroes the E entries of the lowest-scoring triplets until the total rank fits the budget.
/// </summary>
/// <remarks>
/// The budget starts at the sum of the modules' ranks (init_r · modules) and ends at target_r · modules: it is
/// held until <c>tinit</c>, decreases cubically until <c>total_step − tfinal</c> (masking every <c>deltaT</c> steps)
/// and is then fixed. All work runs without gradient tracking, in a dispose scope per call.
/// </remarks>
public sealed class RankAllocator : IDisposable
{
    private readonly AdaLoraConfig _config;
    private readonly string _adapter;
    private readonly IReadOnlyList<(string Path, AdaLoraLayer Layer)> _modules;
    private readonly Dictionary<Parameter, (Tensor Ipt, Tensor Unc)> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>Creates the allocator for <paramref name="adapter"/> on <paramref name="modules"/>.</summary>
    public RankAllocator(AdaLoraConfig config, string adapter, IReadOnlyList<(string Path, AdaLoraLayer Layer)> modules)
    {
        _config = config;
        _adapter = adapter;
        _modules = modules.OrderBy(m => m.Path, StringComparer.Ordinal).ToArray();
        InitialBudget = _modules.Sum(m => m.Layer.Rank(adapter));
        TargetBudget = config.TargetR * _modules.Count;
    }

    /// <summary>The total rank at the start (PEFT's <c>init_bgt</c>: the sum of lora_A rows).</summary>
    public int InitialBudget { get; }

    /// <summary>The total rank at the end (PEFT's <c>target_bgt</c>: target_r × modules).</summary>
    public int TargetBudget { get; }

    /// <summary>The rank-pattern key of the module at <paramref name="path"/>: <c>{path}.lora_E</c>.</summary>
    public static string PatternKey(string path) => path + ".lora_E";

    /// <summary>
    /// PEFT's <c>budget_schedule</c>: (budget, whether to mask) at <paramref name="step"/>. Up to <c>tinit</c> the
    /// initial budget without masking; after <c>total_step − tfinal</c> the target budget with masking; in between
    /// ⌊(init − target)·(1 − (step − tinit)/(total − tfinal − tinit))³ + target⌋, masking when step % deltaT == 0.
    /// </summary>
    public (int Budget, bool Mask) BudgetSchedule(int step)
    {
        int tinit = _config.Tinit, tfinal = _config.Tfinal, total = TotalStep;
        if (step <= tinit) return (InitialBudget, false);
        if (step > total - tfinal) return (TargetBudget, true);
        double mulCoeff = 1 - (double)(step - tinit) / (total - tfinal - tinit);
        int budget = (int)((InitialBudget - TargetBudget) * Math.Pow(mulCoeff, 3) + TargetBudget);
        return (budget, step % _config.DeltaT == 0);
    }

    private int TotalStep => _config.TotalStep
        ?? throw new InvalidOperationException("AdaLoRA's total_step is not set; the budget schedule needs it");

    /// <summary>
    /// PEFT's <c>RankAllocator.update_and_allocate</c>: updates the importance (before <c>total_step − tfinal</c>),
    /// then masks to the scheduled budget when the schedule (or <paramref name="forceMask"/>) says so.
    /// Returns the budget and the new rank pattern (null when nothing was masked).
    /// </summary>
    public (int Budget, Dictionary<string, bool[]>? RankPattern) UpdateAndAllocate(int step, bool forceMask = false)
    {
        if (step < TotalStep - _config.Tfinal) UpdateImportance();
        var (budget, mask) = BudgetSchedule(step);
        return (budget, mask || forceMask ? MaskToBudget(budget) : null);
    }

    /// <summary>PEFT's <c>update_ipt</c>: the sensitivity and uncertainty EMAs from the current gradients.</summary>
    public void UpdateImportance()
    {
        using var _ = no_grad();
        using var beta1 = _config.Beta1.ToScalar();
        using var oneMinusBeta1 = (1 - _config.Beta1).ToScalar();
        using var beta2 = _config.Beta2.ToScalar();
        using var oneMinusBeta2 = (1 - _config.Beta2).ToScalar();
        foreach (var p in Parameters())
        {
            using var scope = NewDisposeScope();
            var grad = p.grad;
            var ipt = grad is null ? zeros_like(p) : (p.detach() * grad).abs();
            if (!_state.TryGetValue(p, out var s))
            {
                s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
                _state[p] = s;
            }
            // Sensitivity smoothing, then uncertainty quantification against the updated mean.
            s.Ipt.mul_(beta1).add_(ipt, alpha: oneMinusBeta1);
            s.Unc.mul_(beta2).add_((ipt - s.Ipt).abs(), alpha: oneMinusBeta2);
        }
    }

    /// <summary>
    /// PEFT's <c>mask_to_budget</c>: zeroes E where the triplet score is at or below the
    /// (initial − budget)-th smallest score, and returns which triplets are kept, per module.
    /// </summary>
    public Dictionary<string, bool[]> MaskToBudget(int budget)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var scores = new List<Tensor>(_modules.Count);
        foreach (var (_, layer) in _modules)
        {
            var e = Score(layer.LoraE(_adapter)).view(-1);
            var a = Score(layer.LoraA(_adapter)).mean([1]);
            var b = Score(layer.LoraB(_adapter)).mean([0]);
            scores.Add(e.Plus(a).Plus(b));
        }
        int k = InitialBudget - budget;
        double threshold = double.NegativeInfinity;
        if (k > 0)
        {
            var all = cat(scores.Select(s => s.to(ScalarType.Float32)).ToArray(), 0);
            threshold = all.kthvalue(k, 0).values.item<float>();
        }
        var pattern = new Dictionary<string, bool[]>(StringComparer.Ordinal);
        using var thresholdValue = threshold.ToScalar();
        using var zero = 0.0.ToScalar();
        for (int i = 0; i < _modules.Count; i++)
        {
            var (path, layer) = _modules[i];
            var masked = scores[i].to(ScalarType.Float32) <= thresholdValue;
            layer.LoraE(_adapter).masked_fill_(masked.view(-1, 1), zero);
            pattern[PatternKey(path)] = masked.logical_not().cpu().data<bool>().ToArray();
        }
        return pattern;
    }

    /// <summary>PEFT's <c>mask_using_rank_pattern</c>: zeroes E where <paramref name="rankPattern"/> says a triplet is dropped.</summary>
    public void MaskUsingRankPattern(IReadOnlyDictionary<string, bool[]> rankPattern)
    {
        using var _ = no_grad();
        using var zero = 0.0.ToScalar();
        foreach (var (path, layer) in _modules)
        {
            if (!rankPattern.TryGetValue(PatternKey(path), out var keep)) continue;
            var e = layer.LoraE(_adapter);
            if (keep.Length != e.shape[0]) continue;
            using var scope = NewDisposeScope();
            var dropped = tensor(keep.Select(k => !k).ToArray(), device: e.device).view(-1, 1);
            e.masked_fill_(dropped, zero);
        }
    }

    /// <summary>PEFT's <c>reset_ipt</c>: forgets the importance statistics.</summary>
    public void ResetImportance()
    {
        foreach (var (ipt, unc) in _state.Values) { ipt.Dispose(); unc.Dispose(); }
        _state.Clear();
    }

    /// <inheritdoc />
    public void Dispose() => ResetImportance();

    private Tensor Score(Parameter p) =>
        _state.TryGetValue(p, out var s) ? s.Ipt * s.Unc : zeros_like(p);

    private IEnumerable<Parameter> Parameters()
    {
        foreach (var (_, layer) in _modules)
        {
            yield return layer.LoraA(_adapter);
            yield return layer.LoraE(_adapter);
            yield return layer.LoraB(_adapter);
        }
    }
}
