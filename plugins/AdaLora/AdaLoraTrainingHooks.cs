using PeftHost.Sdk;

namespace PeftHost.Plugins.AdaLora;

/// <summary>
/// Runs PEFT's <c>update_and_allocate</c> once per optimizer step, after the optimizer step and before the
/// gradients are cleared — the order PEFT documents (<c>loss.backward(); optimizer.step();
/// model.base_model.update_and_allocate(step); optimizer.zero_grad()</c>), so a masked singular value stays zero
/// until the next step.
/// </summary>
public sealed class AdaLoraTrainingHooks(AdaLoraAdapter adapter, Action<string> warn) : ITrainingHooks
{
    private bool _warned;

    /// <inheritdoc />
    public string AdapterName => adapter.Name;

    /// <inheritdoc />
    /// <remarks>Warns once when the run's step count differs from the config's <c>total_step</c> (the schedule follows the config, as in PEFT).</remarks>
    public void AfterOptimizerStep(TrainingStepInfo step)
    {
        if (!_warned && step.TotalSteps > 0 && adapter.AdaLoraConfig.TotalStep is int total && total != step.TotalSteps)
        {
            _warned = true;
            warn($"adalora adapter '{adapter.Name}': total_step is {total} but the run takes {step.TotalSteps} optimizer steps; the budget schedule follows total_step");
        }
        adapter.UpdateAndAllocate(step.GlobalStep);
    }
}
