namespace PeftHost.Core.Training;

/// <summary>Why a training run ended.</summary>
public enum TrainingStopReason
{
    /// <summary>All epochs or the maximum number of steps were done.</summary>
    Completed,
    /// <summary>The early-stopping metric stopped improving.</summary>
    EarlyStopped,
    /// <summary>The cancellation token fired; a checkpoint was written at the step boundary.</summary>
    Cancelled,
    /// <summary>A step-boundary callback asked to stop; a checkpoint was written.</summary>
    StoppedByHandler,
    /// <summary>A loss, gradient or parameter became NaN or infinite (see <see cref="TrainingDivergedException"/>).</summary>
    Diverged,
}
