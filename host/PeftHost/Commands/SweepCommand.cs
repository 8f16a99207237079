using System.CommandLine;
using System.Globalization;
using PeftHost.Core.Recipes;
using PeftHost.Farm;
using PeftHost.Farm.Shipping;

namespace PeftHost.Cli.Commands;

/// <summary>
/// <c>peft sweep RECIPE.js --grid key=v1,v2 [--grid …] [--set key=value]… [--out DIR] [--rank METRIC] [--cluster redis://HOST:PORT [--tls-cert FILE] [--shared-storage] [--connect-timeout S]]</c>:
/// one job per grid combination, each run as <c>peft run RECIPE --set … --out DIR/JOB</c> runs it, on an embedded
/// silo in this process or on a farm's silos (docs/FARM.md); then a table ranking the jobs by a column of the
/// recipe's own tables. Exit code 0 when every job succeeded, 1 when one failed (its error is printed and in
/// DIR/JOB/stderr.log), 130 when cancelled.
/// </summary>
public static class SweepCommand
{
    /// <summary>Builds the command; <paramref name="cancellation"/> stands in for Ctrl-C (for tests and hosts).</summary>
    public static Command Create(CancellationToken cancellation = default)
    {
        var recipe = new Argument<string>("recipe") { Description = "The recipe: a JavaScript module (.js)" };
        var grid = new Option<string[]>("--grid", "-g")
        {
            Description = "A parameter's values, key=v1,v2,… (repeat for more keys; one job per combination)",
            DefaultValueFactory = _ => [],
        }.Check(grids => { foreach (var g in grids) SweepGrid.Check(g); _ = new SweepGrid(grids); });
        var set = new Option<string[]>("--set", "-s")
        {
            Description = "A parameter every job gets, key=value (repeatable)",
            DefaultValueFactory = _ => [],
        }.Check(assignments => { foreach (var a in assignments) RecipeParameters.Split(a); });
        var output = new Option<string?>("--out", "-o") { Description = "The sweep's folder, one subfolder per job (default: runs/<recipe>-sweep-<timestamp>/); must be new or empty" };
        var workspace = new Option<string?>("--workspace") { Description = "Folder whose models/ and data/ the recipe may read (default: the current folder)" };
        var rank = new Option<string?>("--rank") { Description = "Rank the jobs by this column of the recipe's table(...) output (its last row)" };
        var order = new Option<string?>("--rank-order") { Description = "max or min (default: min for names ending in loss or perplexity/ppl, else max)" }
            .Check(o => OptionRules.Require(o is null or "max" or "min", $"must be max or min, got '{o}'"));
        var cluster = FarmOptions.Cluster("Submit to the farm whose silos meet in this Redis (default: an embedded silo in this process)");
        var key = FarmOptions.ClusterKey();
        var connectTimeout = new Option<double>("--connect-timeout")
        {
            Description = $"Seconds to wait for the farm to answer (with --cluster; default {FarmClient.DefaultConnectTimeout.TotalSeconds:F0})",
            DefaultValueFactory = _ => FarmClient.DefaultConnectTimeout.TotalSeconds,
        }.Positive();
        var sharedStorage = new Option<bool>("--shared-storage")
        {
            Description = "With --cluster: every silo sees this machine's recipe, workspace and --out at the same paths (a network file system), so nothing is shipped",
        };
        var tls = FarmOptions.Tls();
        var plugins = PluginsCommand.PluginDirectories();

        var command = new Command("sweep", "Run a recipe once per combination of parameter values, on an embedded silo or a farm, and rank the runs")
        {
            recipe, grid, set, output, workspace, rank, order, cluster, key, connectTimeout, sharedStorage, plugins,
        };
        foreach (var option in tls.All) command.Options.Add(option);
        command.SetAction(CommandAction.Of((parse, stdout) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            string recipePath = Path.GetFullPath(parse.GetValue(recipe)!);
            if (!File.Exists(recipePath)) throw new FileNotFoundException($"{parse.GetValue(recipe)}: recipe not found");
            string root = Path.GetFullPath(parse.GetValue(workspace) ?? Directory.GetCurrentDirectory());
            string name = Path.GetFileNameWithoutExtension(recipePath);
            string outDir = Path.GetFullPath(parse.GetValue(output)
                ?? Path.Combine(root, RunResumption.RunsFolder, $"{name}-sweep-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}"));
            if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
                throw new IOException($"{outDir} is not empty; a sweep writes into a new or empty folder");
            if (parse.GetValue(tls.Certificate) is not null && parse.GetValue(cluster) is null) throw new ArgumentException("--tls-cert secures a farm's connections: it goes with --cluster");
            if (parse.GetValue(sharedStorage) && parse.GetValue(cluster) is null) throw new ArgumentException("--shared-storage is for a farm: it goes with --cluster");
            var farmTls = tls.Load(parse);
            var sweepGrid = new SweepGrid(parse.GetValue(grid)!);
            string[] fixedSets = parse.GetValue(set)!;
            string sweepId = Guid.NewGuid().ToString("N");
            var jobs = sweepGrid.Combinations().Select(combination =>
            {
                string jobName = SweepGrid.JobName(combination);
                return new FarmJob
                {
                    Id = $"{sweepId}/{jobName}",
                    Sweep = sweepId,
                    Name = jobName,
                    Recipe = recipePath,
                    Workspace = root,
                    OutputFolder = Path.Combine(outDir, jobName),
                    Assignments = [.. fixedSets, .. combination],
                };
            }).ToList();

            void Report(string line) { lock (stderr) { stderr.WriteLine(line); stderr.Flush(); } }
            using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var statuses = Sweep(parse.GetValue(cluster), parse, key, farmTls, !parse.GetValue(sharedStorage), TimeSpan.FromSeconds(parse.GetValue(connectTimeout)), parse.GetValue(plugins) ?? [], jobs, Report, interrupt.Token)
                .GetAwaiter().GetResult();

            var summary = new SweepSummary(statuses, sweepGrid.Keys, parse.GetValue(rank), parse.GetValue(order) is { } o ? o == "max" : null);
            Directory.CreateDirectory(outDir); // the silos made the jobs' folders in it; created here only when no job started
            summary.Write(outDir);
            stdout.WriteLine(summary.Table());
            var failed = statuses.Where(s => s.State != JobState.Succeeded).ToList();
            foreach (var f in failed)
                stderr.WriteLine($"{f.Job.Name} failed: {f.Outcome?.Error}");
            stderr.WriteLine(failed.Count == 0
                ? $"done: {statuses.Count} jobs, outputs in {outDir}"
                : $"{failed.Count} of {statuses.Count} jobs failed; outputs in {outDir} (each job's log in its stderr.log)");
            return failed.Count == 0 ? 0 : PeftCli.Failure;
        }));
        return command;
    }

    private static async Task<List<JobStatus>> Sweep(string? cluster, ParseResult parse, Option<string?> key, FarmTls? tls, bool ship, TimeSpan connectTimeout, string[] pluginDirectories,
        List<FarmJob> jobs, Action<string> report, CancellationToken cancellation)
    {
        if (cluster is null)
        {
            await using var silo = await FarmSilo.StartAsync(new FarmSiloOptions { PluginDirectories = pluginDirectories }, cancellation);
            report($"[farm] {jobs.Count} jobs on an embedded silo");
            return await new SweepRunner(silo.Grains, report).RunAsync(jobs, cancellation);
        }
        var address = ClusterAddress.Parse(cluster);
        string clusterKey = FarmOptions.KeyOf(parse, key);
        await using var client = await FarmClient.ConnectAsync(address, clusterKey, tls, connectTimeout, cancellation);
        OutputCollector? outputs = null;
        using var redis = ship ? await FarmClient.ConnectRedisAsync(address) : null;
        if (redis is not null)
        {
            // Shipped: the silos fetch the inputs by content hash from the farm's Redis and ship the outputs back there.
            var store = new BlobStore(redis.GetDatabase(), ClusterAddress.ClusterIdFor(clusterKey));
            var first = jobs[0];
            var inputs = new InputManifest(first.Recipe, first.Workspace, Path.GetDirectoryName(first.OutputFolder)!);
            int uploaded = inputs.Upload(store);
            foreach (var job in jobs) job.Inputs = inputs.Files;
            report($"[farm] inputs: {inputs.Files.Count} files, {inputs.Bytes / 1e6:F1} MB ({uploaded} blobs uploaded, the others already in the farm's Redis)");
            outputs = new OutputCollector(store, jobs, report);
        }
        report($"[farm] {jobs.Count} jobs submitted to the farm at {address.Host}:{address.Port}{(tls is null ? "" : " over TLS")}"
            + (ship ? "; outputs are shipped back here" : "; shared storage"));
        return await new SweepRunner(client.Grains, report, outputs).RunAsync(jobs, cancellation);
    }
}
