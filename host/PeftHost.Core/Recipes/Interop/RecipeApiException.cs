namespace PeftHost.Core.Recipes.Interop;

/// <summary>A recipe called the API wrongly: a bad argument or option. Surfaces in the script as a <c>TypeError</c>.</summary>
public sealed class RecipeApiException(string message) : ArgumentException(message);
