using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>Which answer a streamed piece of text belongs to.</summary>
public enum GenerationLane
{
    /// <summary>The model with its active adapter.</summary>
    Adapter,

    /// <summary>The base model alone (adapters bypassed).</summary>
    Base,
}

/// <summary>A playground generation started.</summary>
/// <param name="RequestId">The request.</param>
/// <param name="Prompt">The prompt.</param>
/// <param name="Adapter">The active adapter the first answer uses, or null when the model has none (then only the base answers).</param>
public sealed record GenerationStartedEvent(int RequestId, string Prompt, string? Adapter) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => DashboardModel.EventSource;
}

/// <summary>New text of one answer, as it is decoded (a token, or several when a character spans tokens).</summary>
/// <param name="RequestId">The request.</param>
/// <param name="Lane">Which answer.</param>
/// <param name="Delta">The text to append.</param>
public sealed record GenerationTextEvent(int RequestId, GenerationLane Lane, string Delta) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => DashboardModel.EventSource;
}

/// <summary>A playground generation ended.</summary>
/// <param name="RequestId">The request.</param>
/// <param name="Tokens">Tokens generated over both answers.</param>
/// <param name="Elapsed">How long it took.</param>
/// <param name="Error">Why it failed or stopped; null when it completed.</param>
public sealed record GenerationFinishedEvent(int RequestId, int Tokens, TimeSpan Elapsed, string? Error) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source => DashboardModel.EventSource;
}
