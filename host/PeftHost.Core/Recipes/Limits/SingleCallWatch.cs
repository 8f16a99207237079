using System.Diagnostics;

namespace PeftHost.Core.Recipes.Limits;

/// <summary>
/// Bounds the one thing the between-statement budgets cannot see: a single native call that does not
/// return (a built-in looping over 2³⁰ elements, a blocking wait). Jint checks its constraints only
/// between statements, so such a call outlives <c>--timeout</c>, <c>--max-memory</c> and Ctrl-C.
/// The runner polls this from its own thread while the script runs; when the script's clock is running
/// (JavaScript, not a host step), no statement has completed for a while, and a budget is spent or the
/// run was cancelled, it answers why the run must end now. The runner then gives up on the script
/// thread (it cannot be interrupted inside a native call) and reports the run as ended.
/// </summary>
internal sealed class SingleCallWatch(ScriptClock clock, ScriptMemoryBudget memory, RecipeLimits limits, CancellationToken cancellation)
{
    /// <summary>How long a budget may stay exceeded (or a cancellation unanswered) before the call is given up on.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    private long _statements = -1;
    private long _quietSince = Stopwatch.GetTimestamp();
    private long _allocatedAtLastStatement;
    private long _cancelSeenAt;

    /// <summary>Null while the script may go on; otherwise the failure that ends the run.</summary>
    public RecipeLimitException? Check()
    {
        long now = Stopwatch.GetTimestamp();
        long statements = memory.Checks;
        if (statements != _statements || !clock.IsRunning)
        {
            // A statement completed since the last poll, or a host step is running (it watches the token itself).
            _statements = statements;
            _quietSince = now;
            _allocatedAtLastStatement = GC.GetTotalAllocatedBytes();
            _cancelSeenAt = 0;
            return null;
        }
        bool quietLongEnough = Stopwatch.GetElapsedTime(_quietSince, now) > Grace;
        if (cancellation.IsCancellationRequested)
        {
            if (_cancelSeenAt == 0) _cancelSeenAt = now;
            if (quietLongEnough && Stopwatch.GetElapsedTime(_cancelSeenAt, now) > Grace)
                return new RecipeLimitException(RecipeLimitKind.Time, "cancelled inside one call that did not return; it was abandoned");
        }
        if (clock.Elapsed > limits.Timeout + Grace)
            return new RecipeLimitException(RecipeLimitKind.Time, ScriptTimeBudget.Message(limits.Timeout) + "; it was stopped inside one call that did not return");
        // Allocation inside the call, measured process-wide (another thread's own counter cannot be read).
        long inCall = GC.GetTotalAllocatedBytes() - _allocatedAtLastStatement;
        if (memory.AllocatedAtLastCheck + inCall > limits.MaxMemoryBytes)
            return new RecipeLimitException(RecipeLimitKind.Memory, ScriptMemoryBudget.Message(memory.AllocatedAtLastCheck + inCall, limits.MaxMemoryBytes) + "; it was stopped inside one call");
        return null;
    }
}
