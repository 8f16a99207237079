using Jint;

namespace PeftHost.Core.Recipes.Limits;

/// <summary>
/// Caps the managed memory the recipe's JavaScript allocates over the run: bytes allocated on the
/// script thread since the run started. Host steps (models, tensors, datasets) run on the job
/// thread and are not charged; what the script thread allocates is the script's objects, strings
/// and arrays plus the small conversions of API results. It is an allocation budget, as Jint's own
/// is: a loop that keeps building big arrays reaches it whether or not they are still referenced.
/// </summary>
internal sealed class ScriptMemoryBudget(long maxBytes) : Constraint
{
    private int _threadId = -1;
    private long _start;
    private long _checks;
    private long _allocatedAtLastCheck;

    /// <summary>Allocation grows without bound between two statements, so every statement is checked.</summary>
    public override bool IsAmortizable => false;

    /// <summary>Starts counting on the calling (script) thread.</summary>
    public void Start()
    {
        _threadId = Environment.CurrentManagedThreadId;
        _start = GC.GetAllocatedBytesForCurrentThread();
    }

    /// <summary>Bytes charged so far.</summary>
    public long Allocated => _threadId == Environment.CurrentManagedThreadId ? GC.GetAllocatedBytesForCurrentThread() - _start : 0;

    /// <summary>Statements checked so far: the heartbeat <see cref="SingleCallWatch"/> watches from another thread.</summary>
    public long Checks => Volatile.Read(ref _checks);

    /// <summary>Bytes charged at the last statement, readable from another thread.</summary>
    public long AllocatedAtLastCheck => Volatile.Read(ref _allocatedAtLastCheck);

    /// <inheritdoc />
    public override void Check()
    {
        if (_threadId != Environment.CurrentManagedThreadId) return;
        long used = GC.GetAllocatedBytesForCurrentThread() - _start;
        Volatile.Write(ref _allocatedAtLastCheck, used);
        Volatile.Write(ref _checks, _checks + 1);
        if (used > maxBytes) throw new RecipeLimitException(RecipeLimitKind.Memory, Message(used, maxBytes));
    }

    /// <summary>The message of an exceeded budget.</summary>
    public static string Message(long used, long maxBytes) =>
        $"memory limit reached: the recipe's JavaScript allocated {Mib(used)} MiB, more than its {Mib(maxBytes)} MiB (raise it with --max-memory)";

    /// <summary>Deliberately nothing: the budget spans the whole run.</summary>
    public override void Reset() { }

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("N1", System.Globalization.CultureInfo.InvariantCulture);
}
