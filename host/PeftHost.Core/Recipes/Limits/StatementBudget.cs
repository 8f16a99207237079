using Jint;

namespace PeftHost.Core.Recipes.Limits;

/// <summary>
/// Caps the JavaScript statements one recipe run may execute, across the module, its imports and
/// every callback — unlike Jint's built-in limit, which restarts at every engine entry. Its own
/// exception carries the statement's file:line (Jint annotates CLR exceptions thrown from checks).
/// </summary>
internal sealed class StatementBudget(long maxStatements) : Constraint
{
    private long _executed;

    /// <summary>Statements run so far.</summary>
    public long Executed => _executed;

    /// <summary>Counts its own calls, so it must see every statement.</summary>
    public override bool IsAmortizable => false;

    /// <inheritdoc />
    public override void Check()
    {
        if (++_executed > maxStatements)
            throw new RecipeLimitException(RecipeLimitKind.Statements,
                $"statement limit reached: the recipe ran more than {maxStatements:N0} JavaScript statements (raise it with --max-statements)");
    }

    /// <summary>Deliberately nothing: the budget spans the whole run, not one engine entry.</summary>
    public override void Reset() { }
}
