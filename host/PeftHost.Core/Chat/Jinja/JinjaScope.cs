namespace PeftHost.Core.Chat.Jinja;

/// <summary>Variables of one scope (the globals, a loop, a macro call), chained to the enclosing one.</summary>
internal sealed class JinjaScope(JinjaScope? parent = null)
{
    private readonly Dictionary<string, JinjaValue> _variables = new(StringComparer.Ordinal);

    public JinjaScope? Parent { get; } = parent;

    /// <summary>Sets a variable in this scope (shadowing outer ones).</summary>
    public void Set(string name, JinjaValue value) => _variables[name] = value;

    /// <summary>The innermost variable of that name; undefined when none.</summary>
    public JinjaValue Lookup(string name)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
            if (scope._variables.TryGetValue(name, out var value)) return value;
        return JinjaUndefined.Instance;
    }

    public bool DeclaresHere(string name) => _variables.ContainsKey(name);
}

/// <summary>
/// What one rendering may consume, so that a template (it comes with a downloaded model) cannot hang or exhaust
/// memory: loop iterations and <c>range</c> items in total, the length of any string it builds, and macro call depth.
/// </summary>
public sealed record JinjaLimits(long MaxIterations = 1_000_000, int MaxOutputChars = 16 << 20, int MaxCallDepth = 100)
{
    public static JinjaLimits Default { get; } = new();
}
