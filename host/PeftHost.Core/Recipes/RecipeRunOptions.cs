namespace PeftHost.Core.Recipes;

/// <summary>What to run and where: the recipe, its parameters, its folders and its limits.</summary>
public sealed record RecipeRunOptions
{
    /// <summary>The recipe file (an ES module, <c>.js</c> or <c>.mjs</c>).</summary>
    public required string RecipePath { get; init; }

    /// <summary>The run's output folder (created); relative paths a recipe writes go here.</summary>
    public required string OutputFolder { get; init; }

    /// <summary>The folder holding <c>models/</c> and <c>data/</c> (default: the current directory).</summary>
    public string Workspace { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>The <c>--set key=value</c> pairs, as typed.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; init; } = [];

    /// <summary>More folders the recipe may read.</summary>
    public IReadOnlyList<string> ExtraReadRoots { get; init; } = [];

    /// <summary>
    /// Continue the interrupted run in <see cref="OutputFolder"/>: every <c>train</c> call without its own
    /// <c>resumeFrom</c> resumes from the newest checkpoint in its folder (as <c>resumeFrom: "latest"</c>), and
    /// <c>run.json</c> keeps the run's start and records the resume.
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>The sandbox's budgets.</summary>
    public RecipeLimits Limits { get; init; } = new();
}
