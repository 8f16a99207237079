using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Core.Plugins;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>What <c>peft tui</c> opens.</summary>
public sealed record DashboardOptions
{
    /// <summary>The folder runs read <c>models/</c> and <c>data/</c> from and write <c>runs/</c> into.</summary>
    public string Workspace { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>The recipes folder (default: <c>recipes/</c> in the workspace).</summary>
    public string? RecipesFolder { get; init; }

    /// <summary>Where runs write their outputs (default: <c>runs/</c> in the workspace).</summary>
    public string? RunsFolder { get; init; }

    /// <summary>The model to load for the Adapters and Playground panels; null picks <c>models/stories260k</c> when it exists.</summary>
    public string? ModelPath { get; init; }

    /// <summary>Start without a model.</summary>
    public bool NoModel { get; init; }

    /// <summary>Extra plugin folders (<c>--plugins</c>).</summary>
    public IReadOnlyList<string> PluginDirectories { get; init; } = [];

    /// <summary>Where models run: auto, cpu, cuda.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>The farm the Farm panel watches (<c>--cluster</c>), or null: the panel says how to connect.</summary>
    public PeftHost.Farm.ClusterAddress? Cluster { get; init; }

    /// <summary>The farm's cluster key (with <see cref="Cluster"/>).</summary>
    public string? ClusterKey { get; init; }

    /// <summary>The farm's TLS certificate (<c>--tls-cert</c>), or null.</summary>
    public PeftHost.Farm.FarmTls? Tls { get; init; }

    /// <summary>The model folder to load, or null.</summary>
    public string? ResolvedModelPath
    {
        get
        {
            if (NoModel) return null;
            if (ModelPath is not null) return ModelPath;
            string bundled = Path.Combine(Workspace, "models", "stories260k");
            return Directory.Exists(bundled) ? bundled : null;
        }
    }

    /// <summary>The recipes folder to list.</summary>
    public string ResolvedRecipesFolder => RecipesFolder ?? Path.Combine(Workspace, "recipes");

    /// <summary>The folder run outputs go to.</summary>
    public string ResolvedRunsFolder => RunsFolder ?? Path.Combine(Workspace, "runs");

    /// <summary>Where saved form presets go: <c>.pefthost/presets/</c> in the workspace, one file per recipe.</summary>
    public string PresetsFolder => Path.Combine(Workspace, ".pefthost", "presets");
}

/// <summary>
/// The engine side of the dashboard, without any UI: the event bus, the job thread, the plugin
/// host (watching for rebuilt plugins), the current model and the commands. The TUI is one client
/// of it; tests drive it headless.
/// </summary>
public sealed class DashboardSession : IDisposable
{
    private readonly IDisposable _deferredReloads;

    /// <summary>Opens a session on <paramref name="events"/> (subscribe to it first to see the plugins load).</summary>
    /// <param name="options">What to open.</param>
    /// <param name="events">The bus everything reports to.</param>
    /// <param name="runnerFactory">Makes the recipe runner from the plugin host and the step-boundary hook; null uses the recipe runtime.</param>
    public DashboardSession(DashboardOptions options, EventBus events, Func<PluginHost, Func<bool>, IRecipeRunner>? runnerFactory = null)
    {
        Options = options;
        Events = events;
        Jobs = new JobRunner(events);
        Plugins = new PluginHost(new PluginHostOptions { PluginDirectories = options.PluginDirectories, WatchForChanges = true }, events);
        PluginCommands = new PluginCommands(Jobs, Plugins, events);
        Model = new DashboardModel(events, Plugins, Plugins, options.Device);
        ModelCommands = new ModelCommands(Jobs, Model);
        var runner = (runnerFactory ?? DefaultRunner)(Plugins, PluginCommands.ApplyPending);
        Runs = new RunCommands(Jobs, runner, events, options.Workspace, options.ResolvedRunsFolder);
        Recipes = new RecipeCatalog(options.ResolvedRecipesFolder);
        // Reloads asked for while a non-training job ran are applied once it ends.
        _deferredReloads = events.Subscribe<JobFinishedEvent>(_ => ThreadPool.QueueUserWorkItem(_ =>
        {
            if (Jobs.WaitForIdle(TimeSpan.FromSeconds(5))) PluginCommands.TryApplyNow();
        }));
    }

    /// <summary>What was opened.</summary>
    public DashboardOptions Options { get; }

    /// <summary>The bus.</summary>
    public EventBus Events { get; }

    /// <summary>The job thread.</summary>
    public JobRunner Jobs { get; }

    /// <summary>The plugin host.</summary>
    public PluginHost Plugins { get; }

    /// <summary>Plugin reloads (F9).</summary>
    public PluginCommands PluginCommands { get; }

    /// <summary>The current model.</summary>
    public DashboardModel Model { get; }

    /// <summary>Model, adapter and playground commands.</summary>
    public ModelCommands ModelCommands { get; }

    /// <summary>Recipe runs (F5, Ctrl-C).</summary>
    public RunCommands Runs { get; }

    /// <summary>The recipes folder.</summary>
    public RecipeCatalog Recipes { get; }

    /// <summary>Loads the configured model, if any, as the first job.</summary>
    public void LoadInitialModel()
    {
        if (Options.ResolvedModelPath is { } path) ModelCommands.LoadModel(path);
        else Model.Publish();
    }

    /// <summary>Stops the running job (waiting a little for its checkpoint), then releases the model and plugins.</summary>
    public void Dispose()
    {
        _deferredReloads.Dispose();
        Jobs.Cancel();
        Jobs.WaitForIdle(TimeSpan.FromSeconds(30));
        Jobs.Dispose();
        Model.Dispose();
        Plugins.Dispose();
    }

    private static IRecipeRunner DefaultRunner(PluginHost plugins, Func<bool> atStepBoundary) => new RecipeRuntimeRunner(plugins, atStepBoundary);
}
