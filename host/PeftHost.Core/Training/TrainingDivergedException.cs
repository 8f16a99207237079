namespace PeftHost.Core.Training;

/// <summary>
/// Training produced a non-finite loss, gradient or parameter. The step's update is not kept
/// in any checkpoint; the last good checkpoint is left in place.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the error.</summary>
    /// <param name="step">The 0-based optimizer step that failed.</param>
    /// <param name="parameterName">The first trainable parameter found non-finite, if any.</param>
    /// <param name="what">"the loss", "the gradient" or "the value".</param>
    /// <param name="lastCheckpoint">The newest checkpoint written before the failure, if any.</param>
    /// <param name="origin">Where the non-finite values were found to come from, when the trainer could tell (a weight of the model that already holds NaN).</param>
    public TrainingDivergedException(int step, string? parameterName, string what, string? lastCheckpoint, string? origin = null)
        : base($"training diverged at step {step}: {what}" + (parameterName is null ? "" : $" of parameter '{parameterName}'") + " is NaN or infinite"
               + (origin is null ? "" : $"; it comes from {origin}")
               + (lastCheckpoint is null ? "" : $"; the last good checkpoint is {lastCheckpoint}"))
    {
        Origin = origin;
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

    /// <summary>Where the non-finite values come from, when the trainer found it (e.g. "the model's parameter 'model.embed_tokens.weight', which holds 32 NaN or infinite values, the first at [250, 0]").</summary>
    public string? Origin { get; }

    /// <summary>The newest checkpoint written before the failure, if any.</summary>
    public string? LastCheckpoint { get; }
}
