using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>
/// Runs recipes with the host's JavaScript recipe runtime, methods and quantizers from the plugin
/// host, and pending plugin reloads applied at each training step boundary.
/// </summary>
public sealed class RecipeRuntimeRunner(PluginHost plugins, Action atStepBoundary) : IRecipeRunner
{
    /// <inheritdoc />
    public JobResult Run(RecipeRunRequest request, EventBus events, CancellationToken cancellation)
    {
        _ = plugins;
        _ = atStepBoundary;
        events.Log(LogLevel.Error, "recipe", "this build has no recipe runtime (PeftHost.Core/Recipes): recipes cannot run yet");
        return new JobResult(JobOutcome.Failed, "no recipe runtime in this build");
    }
}
