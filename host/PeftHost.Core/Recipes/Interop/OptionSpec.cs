namespace PeftHost.Core.Recipes.Interop;

/// <summary>One option a function accepts.</summary>
/// <param name="Name">Its camelCase key.</param>
/// <param name="Kind">The type it takes.</param>
/// <param name="Description">One line for documentation.</param>
public sealed record OptionSpec(string Name, OptionKind Kind, string Description);
