namespace PeftHost.Farm;

/// <summary>
/// One recipe run a farm executes: the recipe, its <c>--set</c> values, the workspace it reads models and data from
/// and the folder its outputs go to, as absolute paths on the submitter. With <see cref="Inputs"/> the job is
/// shipped: a silo fetches those files by content hash into a folder of its own and ships its outputs back (see
/// <see cref="Shipping.JobShipping"/>); without, every silo reads and writes these paths (shared storage).
/// </summary>
[GenerateSerializer]
public sealed class FarmJob
{
    /// <summary>Unique in the queue: the sweep's id, '/', the job's name.</summary>
    [Id(0)] public string Id { get; set; } = "";

    /// <summary>The sweep (submission) the job belongs to.</summary>
    [Id(1)] public string Sweep { get; set; } = "";

    /// <summary>The job's name within its sweep (also its output subfolder's name), e.g. <c>r=4_learningRate=0.001</c>.</summary>
    [Id(2)] public string Name { get; set; } = "";

    /// <summary>The recipe file.</summary>
    [Id(3)] public string Recipe { get; set; } = "";

    /// <summary>The folder holding <c>models/</c> and <c>data/</c>.</summary>
    [Id(4)] public string Workspace { get; set; } = "";

    /// <summary>The job's output folder (the recipe's <c>--out</c>).</summary>
    [Id(5)] public string OutputFolder { get; set; } = "";

    /// <summary>The <c>--set</c> values, as <c>key=value</c>, in order.</summary>
    [Id(6)] public List<string> Assignments { get; set; } = [];

    /// <summary>
    /// A shipped job's inputs: the recipe folder's files under <c>recipe/</c> and the workspace's models and data under
    /// <c>workspace/</c>; null when every silo sees the submitter's paths (<c>--shared-storage</c>, or embedded).
    /// </summary>
    [Id(7)] public List<Shipping.ShippedFile>? Inputs { get; set; }
}

/// <summary>Where a job is in its life.</summary>
public enum JobState
{
    /// <summary>Waiting for a free slot (again, after its silo was lost).</summary>
    Queued,

    /// <summary>Leased to a worker slot, which renews the lease while the recipe runs.</summary>
    Running,

    /// <summary>The recipe ran to its end.</summary>
    Succeeded,

    /// <summary>The recipe failed for its own reason, or the job was lost too many times.</summary>
    Failed,
}

/// <summary>How a run ended, as the worker reports it.</summary>
[GenerateSerializer]
public sealed class JobOutcome
{
    /// <summary>True when the recipe ran to its end.</summary>
    [Id(0)] public bool Succeeded { get; set; }

    /// <summary>The failure (<c>recipe.js:LINE:COL: message</c> and stack) when it did not.</summary>
    [Id(1)] public string? Error { get; set; }

    /// <summary>
    /// The recipe's results: for every column of every <c>table(...)</c> it printed, the cell of that table's last row
    /// (a later table's column wins), as shown. A sweep ranks its jobs by one of these.
    /// </summary>
    [Id(2)] public Dictionary<string, string> Results { get; set; } = [];

    /// <summary>Seconds the run took on its silo (this attempt).</summary>
    [Id(3)] public double Seconds { get; set; }
}

/// <summary>A job as the queue tracks it.</summary>
[GenerateSerializer]
public sealed class JobStatus
{
    /// <summary>The job.</summary>
    [Id(0)] public FarmJob Job { get; set; } = new();

    /// <summary>Its state.</summary>
    [Id(1)] public JobState State { get; set; }

    /// <summary>The worker slot holding (or that last held) the job: <c>host:pid/slot</c>.</summary>
    [Id(2)] public string? Worker { get; set; }

    /// <summary>How many times a worker took it (more than one: it was resumed after its silo was lost).</summary>
    [Id(3)] public int Attempts { get; set; }

    /// <summary>When the running job's lease ends unless its worker renews it (UTC).</summary>
    [Id(4)] public DateTime LeaseExpires { get; set; }

    /// <summary>How it ended; null until it did.</summary>
    [Id(5)] public JobOutcome? Outcome { get; set; }

    /// <summary>When its current (or last) attempt was taken by a worker (UTC); default while it never was.</summary>
    [Id(6)] public DateTime Started { get; set; }

    /// <summary>Its current attempt's training progress; null until the worker reported a training step.</summary>
    [Id(7)] public JobProgress? Progress { get; set; }
}

/// <summary>
/// A running job's training progress, as its worker last reported it with a lease renewal (every
/// <see cref="JobQueueGrain.RenewEvery"/>): the recipe's latest training step event.
/// </summary>
[GenerateSerializer]
public sealed class JobProgress
{
    /// <summary>Optimizer steps done.</summary>
    [Id(0)] public int Step { get; set; }

    /// <summary>Optimizer steps the training will take.</summary>
    [Id(1)] public int TotalSteps { get; set; }

    /// <summary>The latest training loss.</summary>
    [Id(2)] public double Loss { get; set; }

    /// <summary>Steps per second in this attempt (0 until two steps were seen): what an ETA is estimated from.</summary>
    [Id(3)] public double StepsPerSecond { get; set; }
}

/// <summary>What a silo reports about itself every second: its slots and its process's CPU and memory.</summary>
[GenerateSerializer]
public sealed class SiloLoad
{
    /// <summary>The silo's Orleans address (as <c>SiloAddress.ToParsableString()</c>), matched with the cluster's active silos.</summary>
    [Id(0)] public string Address { get; set; } = "";

    /// <summary>The silo's name as its workers carry it: <c>host:pid</c> (see <see cref="FarmWorker.SlotName"/>).</summary>
    [Id(1)] public string Name { get; set; } = "";

    /// <summary>Its worker slots.</summary>
    [Id(2)] public int Slots { get; set; }

    /// <summary>The slots running a job now.</summary>
    [Id(3)] public int Busy { get; set; }

    /// <summary>The silo process's CPU use over the last report interval, in percent of the machine (all cores).</summary>
    [Id(4)] public double CpuPercent { get; set; }

    /// <summary>The silo process's working set, in bytes.</summary>
    [Id(5)] public long MemoryBytes { get; set; }

    /// <summary>When it was reported (UTC).</summary>
    [Id(6)] public DateTime Reported { get; set; }
}

/// <summary>The whole farm at one moment, as the dashboard's Farm panel shows it.</summary>
[GenerateSerializer]
public sealed class FarmOverview
{
    /// <summary>The active silos that reported their load, by name.</summary>
    [Id(0)] public List<SiloLoad> Silos { get; set; } = [];

    /// <summary>Every job of every sweep in the queue, in submission order, then the most recently forgotten finished ones.</summary>
    [Id(1)] public List<JobStatus> Jobs { get; set; } = [];
}
