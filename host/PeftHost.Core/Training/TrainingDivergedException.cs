namespace PeftHost.Core.Training;

/// <summary>
/// Training produced a non-finite loss, gradient or parameter. The step's update is not kept
/// in any checkpoint; the last good checkpoint is left in place.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the error.</summary>
    public TrainingDivergedException(int step, string? parameterName, string what, string? lastCheckpoint)
        : base($"training diverged at step {step}: {what}" + (parameterName is null ? "" : $" of parameter '{parameterName}'") + " is NaN or infinite"
               + (lastCheckpoint is null ? "" : $"; the last good checkpoint is {lastCheckpoint}"))
    {
        Step = step;
        ParameterName = parameterName;
        What = what;
        LastCheckpoint = lastCheckpoint;
    }

    /// <summary>The 0-based optimizer step that failed.</summary>
    public int Step { get; }

    /// <summary>The first trainable parameter (in the trainer's order) found non-finite; null when only the loss was.</summary>
    public string? ParameterName { get; }

    /// <summary>"loss", "gradient" or "value".</summary>
    public string What { get; }

    /// <summary>The newest checkpoint written before the failure, if any.</summary>
    public string? LastCheckpoint { get; }
}
