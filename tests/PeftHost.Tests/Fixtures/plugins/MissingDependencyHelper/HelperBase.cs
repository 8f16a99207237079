namespace MissingDependencyHelper;

/// <summary>A base class living in another assembly.</summary>
public abstract class HelperBase
{
    public string Describe() => "helped";
}
