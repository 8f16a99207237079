using PeftHost.Bench;
using PeftHost.Core.Runtime;

NativeRuntime.Initialize();
try
{
    _ = BenchDevice.Current;
}
catch (TypeInitializationException e) when (e.InnerException is ArgumentException bad)
{
    Console.Error.WriteLine($"{BenchDevice.Variable}: {bad.Message}");
    return 2;
}
if (args.Length > 0 && args[0] == ChildProcess.Flag)
{
    // One measurement in its own process.
    switch (args[1])
    {
        case "train": // SIZE METHOD BATCH STEPS RECOMPUTE(0|1) [OPTIMIZER]
            TrainingBench.Child(args[2], args[3], int.Parse(args[4]), int.Parse(args[5]), args[6] == "1", args.Length > 7 ? args[7] : "adamw");
            break;
        case "anchor-train": // MODEL_DIR METHOD BATCH STEPS
            AnchorsBench.TrainChild(args[2], args[3], int.Parse(args[4]), int.Parse(args[5]));
            break;
        case "anchor-models": // FOLDER: saves the suite's random models there, one subfolder each, to profile or compare by hand
            AnchorsBench.SaveModels(args[2]);
            break;
        case "anchor-generate": // MODEL_DIR FORMAT(float32|bfloat16|nf4) PREFILL_IDS(comma-separated)
            AnchorsBench.GenerateChild(args[2], args[3], args[4].Split(',').Select(int.Parse).ToArray());
            break;
        case "scalar-race": // OPERATIONS HOW(operator|held): tensor additions while another thread allocates
            ScalarRaceBench.Child(int.Parse(args[2]), args[3] == "held");
            break;
        case "train-profile": // MODEL_DIR BATCH SEQ THREADS DROPOUT: where a LoRA training step's time goes (printed)
            TrainProfile.Run(args[2], int.Parse(args[3]), int.Parse(args[4]), int.Parse(args[5]), double.Parse(args[6], System.Globalization.CultureInfo.InvariantCulture));
            break;
        case "decode-profile": // MODEL_DIR DTYPE: where a decoding step's time goes (printed)
            DecodeProfile.Run(args[2], args[3]);
            break;
        default:
            Console.Error.WriteLine($"unknown child measurement {args[1]}");
            return 2;
    }
    return 0;
}
var suites = BenchSuites.All;
var selected = args.Length == 0 ? suites : suites.Where(s => args.Contains(s.Name)).ToList();
var unknown = args.Where(a => suites.All(s => s.Name != a)).ToList();
if (selected.Count == 0 || unknown.Count > 0)
{
    Console.Error.WriteLine($"unknown suite {string.Join(", ", unknown)}; available: {string.Join(", ", suites.Select(s => s.Name))}");
    return 2;
}
var machine = MachineInfo.Read();
var report = new ResultsReport(Path.Combine(RepoPaths.Root, "bench", "RESULTS.md"), machine);
string chartFolder = Path.Combine(RepoPaths.Root, "bench", "charts");
foreach (var suite in selected)
{
    Console.WriteLine($"== {suite.Name}: {suite.Title}");
    var result = suite.Run(machine);
    string section = result.Markdown.TrimEnd() + "\n" + BenchCharts.Render(suite.Name, result.Charts, chartFolder);
    Console.WriteLine(section);
    report.SetSection(suite.Name, suite.Title, section);
    // Saved after every suite: a later suite failing does not lose the ones already measured.
    report.Save();
}
Console.WriteLine($"wrote {report.Path} and its charts in {chartFolder}");
return 0;
