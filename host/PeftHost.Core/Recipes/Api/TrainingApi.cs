using PeftHost.Core.Recipes.Interop;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// <c>loadDataset</c>, <c>train</c>, <c>evaluate</c>. This build has no training engine yet: the
/// functions exist (so recipes and docs keep one shape) and say so when called.
/// </summary>
internal static class TrainingApi
{
    /// <summary>The option schemas of the training functions.</summary>
    public static IReadOnlyList<OptionSchema> Schemas { get; } = [];

    /// <summary>Adds the functions.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        foreach (var name in new[] { "loadDataset", "train", "evaluate" })
            api.Add(name, s.Function(name, 3, _ => throw new NotSupportedException($"{name} is not available in this build: it has no training engine")));
    }
}
