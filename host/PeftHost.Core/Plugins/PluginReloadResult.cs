namespace PeftHost.Core.Plugins;

/// <summary>What became of one pending reload.</summary>
public enum PluginReloadOutcome
{
    /// <summary>The new build replaced the old one and participants re-attached.</summary>
    Reloaded,

    /// <summary>The file's bytes were unchanged: nothing was swapped.</summary>
    Unchanged,

    /// <summary>The new build could not be loaded; the previous build keeps serving.</summary>
    Refused,

    /// <summary>The plugin is now Failed (the new build failed with no previous build to fall back on, or re-attaching threw).</summary>
    Failed,

    /// <summary>
    /// The main assembly changed while the new build was being loaded (a rebuild still writing it): nothing was judged or
    /// swapped, and the change the watcher reports when the files settle tries again.
    /// </summary>
    Deferred,
}

/// <summary>The result of applying one plugin's pending reload.</summary>
/// <param name="PluginName">The plugin.</param>
/// <param name="Outcome">What happened.</param>
/// <param name="Reason">Why it was refused or failed; null otherwise.</param>
/// <param name="ChangeToReinjectMs">From the first file change (or request) to the end of re-injection.</param>
/// <param name="ApplyMs">The time spent at the step boundary.</param>
public sealed record PluginReloadResult(string PluginName, PluginReloadOutcome Outcome, string? Reason, double ChangeToReinjectMs, double ApplyMs);

/// <summary>A load context the host has let go of, kept weakly to observe that it is collected.</summary>
/// <param name="PluginName">The plugin it belonged to.</param>
/// <param name="Generation">The build's generation (0 for a failed load attempt).</param>
/// <param name="Context">A weak reference to the <see cref="System.Runtime.Loader.AssemblyLoadContext"/>.</param>
public sealed record RetiredPluginContext(string PluginName, int Generation, WeakReference Context)
{
    /// <summary>True while something still keeps the context (and its assemblies) in memory.</summary>
    public bool IsAlive => Context.IsAlive;
}
