using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes;

/// <summary>Progress of a long recipe step other than training (training publishes its own step events).</summary>
/// <param name="Step">The API function ("generate").</param>
/// <param name="Done">Units done (decoding steps…).</param>
/// <param name="Total">Units planned.</param>
/// <param name="UnitsPerSecond">Throughput so far (tokens per second for generation).</param>
/// <param name="Final">True for the last report of the step.</param>
public sealed record RecipeProgressEvent(string Step, int Done, int Total, double UnitsPerSecond, bool Final) : IHostEvent
{
    /// <inheritdoc />
    public DateTimeOffset Time { get; init; } = DateTimeOffset.Now;

    /// <inheritdoc />
    public string Source { get; init; } = "recipe";
}
