namespace PeftHost.Core.Recipes.Sandbox;

/// <summary>What a recipe wants to do with a path.</summary>
public enum PathAccess
{
    /// <summary>Read a file or folder (a model, a dataset, an adapter).</summary>
    Read,

    /// <summary>Create or replace a file or folder (an adapter, a model, a plot).</summary>
    Write,
}
