using PeftHost.Core.Models;

namespace PeftHost.Core.Evaluation;

/// <summary>Something that scores a model and returns named metrics (run by the trainer at each evaluation).</summary>
public interface IEvaluator
{
    /// <summary>
    /// Scores <paramref name="model"/> (already in eval mode, gradients off). Metric names should be
    /// unique across evaluators, e.g. "eval_accuracy".
    /// </summary>
    IReadOnlyDictionary<string, double> Evaluate(CausalLanguageModel model, CancellationToken cancellation = default);
}
