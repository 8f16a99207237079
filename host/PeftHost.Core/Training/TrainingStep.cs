using PeftHost.Core.Data;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Training.Optimization;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training;

/// <summary>What one optimizer step did.</summary>
/// <param name="Loss">Mean loss over the step's supervised tokens, plus the adapters' loss terms.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="Tokens">Non-padding tokens processed.</param>
internal readonly record struct StepOutcome(double Loss, double GradNorm, long Tokens);

/// <summary>
/// One optimizer step: k micro-batches forward and backward, each loss divided by the number of
/// supervised tokens in all k (so the gradient is that of one batch k times larger), the adapters'
/// loss terms added (1/k per micro-batch), training hooks, NaN guard, clipping, AdamWOptimizer, master copy-back.
/// Everything the step allocates lives in a dispose scope that ends with it.
/// </summary>
internal sealed class TrainingStep(CausalLanguageModel model, BatchCollator collator, TrainingOptions options)
{
    public StepOutcome Run(TrainingRun run, double learningRate)
    {
        int step = run.GlobalStep;
        using var scope = NewDisposeScope();
        if (model.Device.type == DeviceType.CUDA)
            torch.cuda.manual_seed_all((long)(DeterministicShuffle.Combine(options.Seed, step, 0xC0DA) >> 1));
        var info = new TrainingStepInfo(step, run.TotalSteps);
        var microBatches = Gather(run.Loader);
        long supervised = microBatches.Sum(m => m.Sum(e => (long)e.PredictedTokens));
        double scale = 1.0 / Math.Max(1, supervised);
        var lossTerms = model.Hooks.ActiveLossTerms().ToArray();

        var total = zeros([], ScalarType.Float32, model.Device);
        long tokens = 0;
        foreach (var examples in microBatches)
        {
            using var micro = NewDisposeScope();
            using var batch = collator.Collate(examples);
            var loss = model.NextTokenLossSum(batch.InputIds, batch.ModelMask, batch.Labels).Times(scale);
            foreach (var term in lossTerms)
                if (term.Compute() is { } extra) loss = loss.Plus(extra.to(ScalarType.Float32).DividedBy(microBatches.Count));
            loss.backward();
            ActivationCheckpoint.ReleaseHandedBack();
            total = total.Plus(loss.detach()).MoveToOuterDisposeScope();
            tokens += batch.RealTokens;
        }
        foreach (var hooks in model.Hooks.ActiveTrainingHooks()) hooks.AfterBackward(info);

        var grads = run.Weights.Gradients();
        var norm = GradientNorm.Global(grads, model.Device);
        var values = stack([total, norm]).cpu().data<float>().ToArray();
        double lossValue = values[0], normValue = values[1];
        if (!double.IsFinite(lossValue) || !double.IsFinite(normValue))
        {
            int bad = NonFiniteCheck.FirstNonFinite(grads);
            throw new TrainingDivergedException(step, bad >= 0 ? run.Weights.Names[bad] : null, bad >= 0 ? "the gradient" : "the loss", run.LastCheckpoint,
                NonFiniteWeight());
        }
        if (options.MaxGradNorm > 0) GradientNorm.Clip(grads, norm, options.MaxGradNorm);

        foreach (var hooks in model.Hooks.ActiveTrainingHooks()) hooks.BeforeOptimizerStep(info);
        run.Optimizer.Step(learningRate, run.Weights.ByName(grads));
        run.Weights.CopyToParameters();
        int badValue = NonFiniteCheck.FirstNonFinite(run.Weights.Optimized.Select(t => (Tensor?)t.Value).ToArray());
        if (badValue >= 0)
            throw new TrainingDivergedException(step, run.Weights.Names[badValue], "the value", run.LastCheckpoint);
        foreach (var hooks in model.Hooks.ActiveTrainingHooks()) hooks.AfterOptimizerStep(info);
        run.Weights.ZeroGradients();
        return new StepOutcome(lossValue, normValue, tokens);
    }

    /// <summary>
    /// The first of the model's parameters (frozen ones included: an embedding row, a base weight)
    /// that holds NaN or infinite values, described; null when all are finite — then the inputs or
    /// the arithmetic (an overflow) produced them.
    /// </summary>
    private string? NonFiniteWeight()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (ModelLoader.NonFiniteReport(parameter) is { } report)
                return $"the model's {(parameter.requires_grad ? "" : "frozen ")}parameter '{name}', which {report}";
        }
        return null;
    }

    /// <summary>Up to k micro-batches, never crossing an epoch boundary (an epoch's last step may have fewer).</summary>
    private List<IReadOnlyList<TokenizedExample>> Gather(IBatchSource loader)
    {
        var batches = new List<IReadOnlyList<TokenizedExample>>();
        int epoch = loader.Position.Epoch;
        do batches.Add(loader.NextExamples());
        while (batches.Count < options.GradientAccumulationSteps && loader.Position.Epoch == epoch);
        return batches;
    }
}
