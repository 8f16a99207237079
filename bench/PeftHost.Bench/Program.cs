using PeftHost.Bench;
using PeftHost.Core.Runtime;

NativeRuntime.Initialize();
if (args.Length > 0 && args[0] == ChildProcess.Flag)
{
    // One measurement in its own process: `--child train SIZE METHOD BATCH STEPS RECOMPUTE(0|1)`.
    TrainingBench.Child(args[2], args[3], int.Parse(args[4]), int.Parse(args[5]), args[6] == "1");
    return 0;
}
var suites = BenchSuites.All;
var selected = args.Length == 0 ? suites : suites.Where(s => args.Contains(s.Name)).ToList();
if (selected.Count == 0)
{
    Console.Error.WriteLine($"unknown suite; available: {string.Join(", ", suites.Select(s => s.Name))}");
    return 2;
}
var machine = MachineInfo.Read();
var report = new ResultsReport(Path.Combine(RepoPaths.Root, "bench", "RESULTS.md"), machine);
foreach (var suite in selected)
{
    Console.WriteLine($"== {suite.Name}: {suite.Title}");
    var section = suite.Run(machine);
    Console.WriteLine(section);
    report.SetSection(suite.Name, suite.Title, section);
}
report.Save();
Console.WriteLine($"wrote {report.Path}");
return 0;
