using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Core.Recipes;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>A recipe run the dashboard asks for: the file, its <c>--set</c> values and where outputs go.</summary>
/// <param name="RecipePath">The recipe (a <c>.js</c> ES module).</param>
/// <param name="SetValues">The <c>key=value</c> assignments, exactly as <c>peft run --set</c> takes them.</param>
/// <param name="OutputFolder">The run's output folder.</param>
/// <param name="Workspace">The folder whose <c>models/</c> and <c>data/</c> the recipe may read.</param>
public sealed record RecipeRunRequest(string RecipePath, IReadOnlyList<string> SetValues, string OutputFolder, string Workspace)
{
    /// <summary>Continue the interrupted run in <see cref="OutputFolder"/> from its latest checkpoints, as <c>peft run --resume</c> does.</summary>
    public bool Resume { get; init; }

    /// <summary>The sandbox limits (a resumed run keeps those of its <c>run.json</c>).</summary>
    public RecipeLimits Limits { get; init; } = new();
}

/// <summary>
/// Runs recipes for the dashboard. The implementation runs the recipe to its end on the calling
/// thread (the job thread), publishing its logs and the training events on the bus, and stops at
/// the next step boundary when the token is cancelled.
/// </summary>
public interface IRecipeRunner
{
    /// <summary>Runs <paramref name="request"/>; returns how it ended (script failures are results, not exceptions).</summary>
    JobResult Run(RecipeRunRequest request, EventBus events, CancellationToken cancellation);
}
