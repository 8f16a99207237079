namespace PeftHost.Core.Recipes.Sandbox;

/// <summary>A recipe asked for something its sandbox forbids: a path outside the allowed folders, a module it may not import.</summary>
public sealed class SandboxViolationException(string message) : UnauthorizedAccessException(message);
