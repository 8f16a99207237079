using System.Diagnostics;
using System.Text;
using PeftHost.Core.Runtime;

namespace PeftHost.Tests.Reliability.Fuzzing;

/// <summary>
/// A reader under attack: the valid file it starts from, how to mutate it, and how to read it.
/// </summary>
/// <param name="Name">The reader's name in reports.</param>
/// <param name="FileName">The name the mutated file is written under, inside the case folder.</param>
/// <param name="Seed">A valid file the reader accepts.</param>
/// <param name="Mutate">One seeded mutation of the seed.</param>
/// <param name="Read">Reads the case: the folder and the mutated file's path. Must dispose what it opens.</param>
/// <param name="CleanErrors">The project's own exception types that count as a clean refusal.</param>
public sealed record FuzzTarget(
    string Name,
    string FileName,
    byte[] Seed,
    Func<Random, byte[], (byte[] Data, string What)> Mutate,
    Action<string, string> Read,
    params Type[] CleanErrors)
{
    /// <summary>Writes the other files the reader needs into the case folder (once).</summary>
    public Action<string>? Setup { get; init; }

    /// <summary>What a clean error's message must contain: by default the mutated file's path.</summary>
    public Func<string, string, string> ExpectedInMessage { get; init; } = (_, file) => file;

    /// <summary>The limit for one case; a case still running after it is a hang (its thread is abandoned).</summary>
    public TimeSpan CaseTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Managed bytes one case may allocate before it counts as a huge allocation.</summary>
    public long MaxManagedBytesPerCase { get; init; } = 64L << 20;
}

/// <summary>What a fuzz run found.</summary>
public sealed class FuzzReport
{
    public required string Reader { get; init; }
    public int Cases { get; set; }
    public int Accepted { get; set; }
    public SortedDictionary<string, int> CleanErrors { get; } = new(StringComparer.Ordinal);
    public List<string> Failures { get; } = [];
    public int FailureCount { get; set; }
    public TimeSpan Elapsed { get; set; }
    public long MaxManagedBytes { get; set; }
    public long MaxRssGrowth { get; set; }
    public long MaxPeakGrowth { get; set; }
    public double SlowestCaseMs { get; set; }

    public int Refused => CleanErrors.Values.Sum();

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append($"{Reader}: {Cases} cases in {Elapsed.TotalSeconds:F1} s: {Accepted} accepted, {Refused} refused cleanly");
        if (CleanErrors.Count > 0) text.Append(" (").Append(string.Join(", ", CleanErrors.Select(kv => $"{kv.Key} {kv.Value}"))).Append(')');
        text.Append($", {FailureCount} failures; slowest case {SlowestCaseMs:F0} ms, max managed allocation {MaxManagedBytes / 1024.0 / 1024.0:F1} MiB, max resident peak {MaxPeakGrowth / 1024.0 / 1024.0:F0} MiB above the case's start, resident growth over the run {MaxRssGrowth / 1024.0 / 1024.0:F0} MiB");
        foreach (var f in Failures) text.Append("\n  FAIL ").Append(f);
        return text.ToString();
    }
}

/// <summary>
/// Runs seeded mutations of a valid file through a reader, one case at a time on a worker thread
/// watched by the test thread: each case must end in success or one of the reader's named errors
/// (whose message names the file) within the time limit, without a huge allocation.
/// </summary>
public static class FuzzRunner
{
    /// <summary>Resident memory may not grow more than this over a run.</summary>
    public const long MaxRssGrowthBytes = 1L << 30;

    /// <summary>The resident-memory peak during one case may not exceed the memory at its start by more than this (native allocations included).</summary>
    public const long MaxPeakGrowthBytes = 256L << 20;

    private const int MaxFailuresListed = 12;

    /// <summary>Runs <paramref name="cases"/> cases of <paramref name="target"/>, case i seeded from (<paramref name="seed"/>, i).</summary>
    public static FuzzReport Run(FuzzTarget target, int cases, int seed)
    {
        string folder = Path.Combine(Path.GetTempPath(), "pefthost-tests", $"fuzz-{new string(target.Name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray())}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            target.Setup?.Invoke(folder);
            string file = Path.Combine(folder, target.FileName);
            var report = new FuzzReport { Reader = target.Name };

            // The seed itself must load, or the run proves nothing.
            File.WriteAllBytes(file, target.Seed);
            target.Read(folder, file);

            var clock = Stopwatch.StartNew();
            long rssBaseline = Environment.WorkingSet;
            int next = 0, hangs = 0;
            while (next < cases && hangs < 3)
            {
                var worker = new Worker(target, folder, file, seed, next, cases, report, rssBaseline);
                var thread = new Thread(worker.Run, 16 << 20) { IsBackground = true, Name = $"fuzz {target.Name}" };
                thread.Start();
                while (!thread.Join(50))
                {
                    if (worker.CurrentCaseElapsed > target.CaseTimeout)
                    {
                        worker.Abandoned = true;
                        lock (report) Fail(report, worker.Current, $"hang: still running after {target.CaseTimeout.TotalSeconds:F0} s", folder, target);
                        hangs++;
                        break; // abandon the stuck thread; carry on from the next case
                    }
                }
                next = worker.Current.Index + 1;
            }
            report.Elapsed = clock.Elapsed;
            return report;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Case <paramref name="index"/> of a run seeded with <paramref name="seed"/>: its bytes and a description.</summary>
    public static (byte[] Data, string What) Case(FuzzTarget target, int seed, int index)
    {
        var rng = new Random(unchecked(seed * 1_000_003 + index));
        return target.Mutate(rng, target.Seed);
    }

    internal readonly record struct CaseInfo(int Index, string What, byte[] Data);

    private sealed class Worker(FuzzTarget target, string folder, string file, int seed, int first, int count, FuzzReport report, long rssBaseline)
    {
        private long _startedAt;
        private volatile object _current = new CaseInfo(first, "", []);

        public CaseInfo Current => (CaseInfo)_current;

        /// <summary>Set when the watcher gave up on this worker: it records nothing more and stops.</summary>
        public volatile bool Abandoned;

        public TimeSpan CurrentCaseElapsed
        {
            get
            {
                long started = Interlocked.Read(ref _startedAt);
                return started == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(started);
            }
        }

        public void Run()
        {
            try { RunCases(); }
            catch (Exception) when (Abandoned) { } // an abandoned worker's folder may be gone: never take the process down
        }

        private void RunCases()
        {
            for (int i = first; i < count && !Abandoned; i++)
            {
                var (data, what) = Case(target, seed, i);
                _current = new CaseInfo(i, what, data);
                File.WriteAllBytes(file, data);
                long residentBefore = Environment.WorkingSet;
                ProcessMemory.ResetPeak();
                long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
                Interlocked.Exchange(ref _startedAt, Stopwatch.GetTimestamp());
                Exception? error = null;
                try { target.Read(folder, file); }
                catch (Exception e) { error = e; }
                double ms = Stopwatch.GetElapsedTime(Interlocked.Exchange(ref _startedAt, 0)).TotalMilliseconds;
                long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
                long peakGrowth = ProcessMemory.PeakResidentBytes() is long peak and > 0 ? peak - residentBefore : 0;
                long rssGrowth = Environment.WorkingSet - rssBaseline;
                lock (report)
                {
                    if (Abandoned) return;
                    report.Cases++;
                    report.SlowestCaseMs = Math.Max(report.SlowestCaseMs, ms);
                    report.MaxManagedBytes = Math.Max(report.MaxManagedBytes, allocated);
                    report.MaxRssGrowth = Math.Max(report.MaxRssGrowth, rssGrowth);
                    report.MaxPeakGrowth = Math.Max(report.MaxPeakGrowth, peakGrowth);
                    var info = Current;
                    if (allocated > target.MaxManagedBytesPerCase)
                        Fail(report, info, $"huge allocation: {allocated / 1024.0 / 1024.0:F0} MiB managed for a {data.Length}-byte input", folder, target);
                    else if (peakGrowth > MaxPeakGrowthBytes)
                        Fail(report, info, $"huge allocation: resident memory peaked {peakGrowth / 1024.0 / 1024.0:F0} MiB above its level before the case", folder, target);
                    else if (rssGrowth > MaxRssGrowthBytes)
                        Fail(report, info, $"resident memory grew by {rssGrowth / 1024.0 / 1024.0:F0} MiB", folder, target);
                    else if (error is null)
                        report.Accepted++;
                    else if (!target.CleanErrors.Any(t => t.IsInstanceOfType(error)))
                        Fail(report, info, $"unexpected {error.GetType().FullName}: {error.Message}\n{TopFrames(error)}", folder, target);
                    else if (!error.Message.Contains(target.ExpectedInMessage(folder, file), StringComparison.Ordinal))
                        Fail(report, info, $"{error.GetType().Name} does not name {target.ExpectedInMessage(folder, file)}: {error.Message}", folder, target);
                    else
                        report.CleanErrors[error.GetType().Name] = report.CleanErrors.GetValueOrDefault(error.GetType().Name) + 1;
                }
            }
            _current = new CaseInfo(count - 1, "done", []);
        }
    }

    private static void Fail(FuzzReport report, CaseInfo info, string what, string folder, FuzzTarget target)
    {
        report.FailureCount++;
        if (report.Failures.Count >= MaxFailuresListed) return;
        // Keep the input for reproduction, outside the case folder that is deleted afterwards.
        string keep = Path.Combine(Path.GetTempPath(), "pefthost-fuzz-failures", target.Name);
        Directory.CreateDirectory(keep);
        string saved = Path.Combine(keep, $"case-{info.Index}-{target.FileName}");
        File.WriteAllBytes(saved, info.Data);
        report.Failures.Add($"case {info.Index} ({info.What}; input kept as {saved}): {what.Replace(folder, "<case>")}");
    }

    private static string TopFrames(Exception e) =>
        string.Join("\n", (e.StackTrace ?? "").Split('\n').Take(6).Select(l => "      " + l.Trim()));
}
