namespace PeftHost.Core.Recipes;

/// <summary>
/// The sandbox's budgets for one run. Defaults are generous for real recipes (whose heavy work
/// happens in host steps, which none of these count) and stop runaway scripts.
/// </summary>
public sealed record RecipeLimits
{
    /// <summary>JavaScript statements over the whole run (callbacks included). Default 200 million.</summary>
    public long MaxStatements { get; init; } = 200_000_000;

    /// <summary>Time spent running JavaScript, host steps excluded. Default 30 minutes.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Managed bytes the script may allocate over the run. Default 4 GiB.</summary>
    public long MaxMemoryBytes { get; init; } = 4L * 1024 * 1024 * 1024;

    /// <summary>How many times one function may be on the call stack. Default 2,000.</summary>
    public int MaxRecursionDepth { get; init; } = 2_000;

    /// <summary>Checks the values, naming the first bad one.</summary>
    public void Validate()
    {
        if (MaxStatements < 1) throw new ArgumentException($"max statements must be at least 1, got {MaxStatements}");
        if (Timeout <= TimeSpan.Zero) throw new ArgumentException($"timeout must be positive, got {Timeout}");
        if (MaxMemoryBytes < 1024 * 1024) throw new ArgumentException($"max memory must be at least 1 MiB, got {MaxMemoryBytes} bytes");
        if (MaxRecursionDepth < 16) throw new ArgumentException($"max recursion depth must be at least 16, got {MaxRecursionDepth}");
    }
}
