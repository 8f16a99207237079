using PeftHost.Core.Peft;
using PeftHost.Core.Telemetry;
using PeftHost.Sdk;

namespace PeftHost.Core.Recipes;

/// <summary>
/// What the host lends a recipe run: where PEFT methods and quantizers come from (the plugin host
/// in production, fixed lists in tests) and the event bus that carries its logs and progress.
/// </summary>
public sealed class RecipeHostContext
{
    /// <summary>The PEFT methods <c>getPeftModel</c> and <c>loadAdapter</c> can use.</summary>
    public required IMethodCatalog Methods { get; init; }

    /// <summary>Finds a quantizer plugin by name (<c>nf4</c>…); null when none is loaded.</summary>
    public Func<string, IQuantizer?> FindQuantizer { get; init; } = _ => null;

    /// <summary>The names of the loaded quantizers (for messages).</summary>
    public Func<IReadOnlyList<string>> QuantizerNames { get; init; } = () => [];

    /// <summary>Receives the recipe's log lines, tables and the steps' progress.</summary>
    public EventBus Events { get; init; } = new();

    /// <summary>
    /// Called at each training step boundary on the job thread, before the recipe's handlers (where
    /// the host applies pending plugin reloads); may be null.
    /// </summary>
    public Action? AtStepBoundary { get; init; }
}
