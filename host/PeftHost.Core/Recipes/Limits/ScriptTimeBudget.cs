using Jint;

namespace PeftHost.Core.Recipes.Limits;

/// <summary>Stops a recipe whose JavaScript has run longer than its time limit (host steps excluded, see <see cref="ScriptClock"/>).</summary>
internal sealed class ScriptTimeBudget(ScriptClock clock, TimeSpan limit) : Constraint
{
    /// <summary>It only observes a clock, so Jint may check it every few statements and keep its fast loop path.</summary>
    public override bool IsAmortizable => true;

    /// <inheritdoc />
    public override void Check()
    {
        if (clock.Elapsed > limit) throw new RecipeLimitException(RecipeLimitKind.Time, Message(limit));
    }

    /// <summary>The message of an exceeded limit.</summary>
    public static string Message(TimeSpan limit) =>
        $"time limit reached: the recipe's JavaScript ran for more than {limit.TotalSeconds:0.###} s (host steps excluded; raise it with --timeout)";

    /// <summary>Deliberately nothing: the budget spans the whole run.</summary>
    public override void Reset() { }
}
