using PeftHost.Core.Training;

namespace PeftHost.Farm;

/// <summary>
/// Follows one job attempt's training steps (from its run's event bus, on the job's thread) so its worker can send the
/// latest with each lease renewal (from another thread). The rate counts only this attempt's steps: a resumed job
/// starts from its checkpoint's step, not from zero.
/// </summary>
public sealed class JobProgressTracker
{
    private readonly object _gate = new();
    private JobProgress? _latest;
    private (int Step, DateTime At)? _first;

    /// <summary>Records a training step event.</summary>
    public void Observe(TrainingStepEvent step) => Observe(step.Step, step.TotalSteps, step.Loss, DateTime.UtcNow);

    /// <summary>Records step <paramref name="step"/> of <paramref name="total"/> with its <paramref name="loss"/>, seen at <paramref name="at"/>.</summary>
    public void Observe(int step, int total, double loss, DateTime at)
    {
        lock (_gate)
        {
            _first ??= (step, at);
            double seconds = (at - _first.Value.At).TotalSeconds;
            int steps = step - _first.Value.Step;
            _latest = new JobProgress
            {
                Step = step,
                TotalSteps = total,
                Loss = loss,
                StepsPerSecond = steps > 0 && seconds > 0 ? steps / seconds : 0,
            };
        }
    }

    /// <summary>The latest progress (a copy), or null before the first training step.</summary>
    public JobProgress? Current
    {
        get
        {
            lock (_gate)
                return _latest is null ? null : new JobProgress { Step = _latest.Step, TotalSteps = _latest.TotalSteps, Loss = _latest.Loss, StepsPerSecond = _latest.StepsPerSecond };
        }
    }
}
