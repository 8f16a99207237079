using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Core.Recipes;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>
/// Runs recipes with the host's JavaScript recipe runtime (<see cref="RecipeRunner"/>), exactly as
/// <c>peft run</c> does: methods and quantizers from the plugin host, logs and training events on
/// the dashboard's bus, the recipe's PEFT models taking part in hot reloads, and pending plugin
/// reloads applied at each training step boundary.
/// </summary>
/// <param name="plugins">The dashboard's plugin host.</param>
/// <param name="atStepBoundary">Applies pending plugin work on the job thread; true when adapters were re-created.</param>
public sealed class RecipeRuntimeRunner(PluginHost plugins, Func<bool> atStepBoundary) : IRecipeRunner
{
    /// <inheritdoc />
    public JobResult Run(RecipeRunRequest request, EventBus events, CancellationToken cancellation)
    {
        var options = new RecipeRunOptions
        {
            RecipePath = request.RecipePath,
            OutputFolder = request.OutputFolder,
            Workspace = request.Workspace,
            Parameters = request.SetValues.Select(RecipeParameters.Split).ToList(),
            Limits = request.Limits,
            Resume = request.Resume,
        };
        var host = RecipeHostContext.ForPlugins(plugins, events, hotReload: true, atStepBoundary);
        var result = new RecipeRunner().Run(options, host, cancellation);
        switch (result.Outcome)
        {
            case RecipeOutcome.Succeeded:
                events.Log(LogLevel.Info, "recipe", $"done: outputs in {result.OutputFolder}");
                return new JobResult(JobOutcome.Succeeded, $"outputs in {result.OutputFolder}");
            case RecipeOutcome.Cancelled:
                return new JobResult(JobOutcome.Cancelled, result.Failure?.Headline ?? "cancelled");
            default:
                events.Log(LogLevel.Error, "recipe", result.Failure?.ToString() ?? "the recipe failed");
                return new JobResult(JobOutcome.Failed, result.Failure?.Headline ?? "the recipe failed");
        }
    }
}
