using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Jobs;

/// <summary>What a background job does; the dashboard's panels react to the kinds they show.</summary>
public enum JobKind
{
    /// <summary>A recipe run (the Run panel follows it).</summary>
    Recipe,

    /// <summary>Loading a model or adapter, or an adapter action (set active, merge, save).</summary>
    Model,

    /// <summary>Playground generation.</summary>
    Generation,

    /// <summary>Rescanning and reloading plugins.</summary>
    Plugins,
}

/// <summary>How a job ended.</summary>
public enum JobOutcome
{
    /// <summary>It ran to its end.</summary>
    Succeeded,

    /// <summary>It threw, or reported a failure.</summary>
    Failed,

    /// <summary>Its cancellation token fired and it stopped.</summary>
    Cancelled,
}

/// <summary>A job started on the <see cref="JobRunner"/>'s thread.</summary>
/// <param name="JobId">1 for the first job, +1 for each next.</param>
/// <param name="Kind">What it does.</param>
/// <param name="Name">What it is called ("tiny-train.js", "load models/stories260k").</param>
public sealed record JobStartedEvent(int JobId, JobKind Kind, string Name) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => JobRunner.EventSource;
}

/// <summary>The current job was asked to stop (its token was cancelled); it ends at its next check, a training run at the next step boundary after a checkpoint.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Kind">What it does.</param>
/// <param name="Name">What it is called.</param>
public sealed record JobCancellingEvent(int JobId, JobKind Kind, string Name) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => JobRunner.EventSource;
}

/// <summary>A job ended.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Kind">What it did.</param>
/// <param name="Name">What it is called.</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="Message">Why it failed or was cancelled (or a short summary); null when there is nothing to say.</param>
/// <param name="Elapsed">How long it ran.</param>
public sealed record JobFinishedEvent(int JobId, JobKind Kind, string Name, JobOutcome Outcome, string? Message, TimeSpan Elapsed) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => JobRunner.EventSource;
}

/// <summary>What a job's work returns: how it ended and, optionally, why.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Message">A one-line reason or summary.</param>
public sealed record JobResult(JobOutcome Outcome, string? Message = null)
{
    /// <summary>A plain success.</summary>
    public static JobResult Success { get; } = new(JobOutcome.Succeeded);
}
