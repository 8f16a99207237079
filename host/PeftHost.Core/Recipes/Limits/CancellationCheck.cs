using Jint;

namespace PeftHost.Core.Recipes.Limits;

/// <summary>
/// Ends the script between two statements once the host's token is cancelled (Ctrl-C). Host steps
/// watch the same token themselves, since Jint only checks between statements.
/// </summary>
internal sealed class CancellationCheck(CancellationToken token) : Constraint
{
    /// <summary>It only observes a token.</summary>
    public override bool IsAmortizable => true;

    /// <inheritdoc />
    public override void Check()
    {
        if (token.IsCancellationRequested) throw new RecipeCancelledException("cancelled");
    }

    /// <summary>Nothing to reset: the token is the host's.</summary>
    public override void Reset() { }
}
