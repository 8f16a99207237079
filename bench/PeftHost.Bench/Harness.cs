using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TorchSharp;

namespace PeftHost.Bench;

/// <summary>A named group of measurements producing one Markdown section of RESULTS.md and its charts.</summary>
public sealed record BenchSuite(string Name, string Title, Func<MachineInfo, SuiteResult> Run);

/// <summary>The suites, in the order they run.</summary>
public static class BenchSuites
{
    /// <summary>Every suite.</summary>
    public static IReadOnlyList<BenchSuite> All { get; } =
    [
        new("generation", "Generation tokens/s with and without the KV cache", GenerationBench.Run),
        new("adapters", "Serving adapters: unmerged vs merged generation, adapter switch, plugin hot reload", AdapterBench.Run),
        new("plugins", "Plugin hot-reload latency and the cost of the plugin boundary", PluginBench.Run),
        new("quantization", "NF4 quantize and dequantize throughput vs memory copy", QuantizationBench.Run),
        new("training", "Training tokens/s, peak memory and MFU per method (~20M and ~100M)", TrainingBench.Run),
        new("families", "LoRA training tokens/s and peak memory per model family at ~100M", FamiliesBench.Run),
        new("optimizer", "Optimizer state and peak memory: fp32 AdamW vs 8-bit AdamW (~20M and ~100M)", TrainingBench.RunOptimizers),
        new("evaluation", "Quickstart evaluation vs training throughput (stories260k, LoRA, SpamAssassin)", EvaluationBench.Run),
        new("qlora-memory", "QLoRA vs LoRA peak memory on a ~1B config", TrainingBench.RunMemory1B),
        new("tokenizers", "Real tokenizers: load time, heap and encode throughput vs the transformers.js reference", TokenizerBench.Run),
        new("export", "GGUF export: time and file size per type, llama.cpp vs PeftHost NLL (~100M LLaMA)", ExportBench.Run),
        new("scalar-race", "TorchSharp's temporary-Scalar race: its addition with the default gen0 budget and the tests' larger one, and PeftHost's held addition", ScalarRaceBench.Run),
        new("anchors", "Against PyTorch and llama.cpp: training, evaluation and generation on the same weights", AnchorsBench.Run),
        new("farm", "Run farm: scheduling overhead per job and jobs/minute for no-op recipes, embedded and on 1 and 3 silos", FarmBench.Run),
    ];
}

/// <summary>Where the repository is.</summary>
public static class RepoPaths
{
    /// <summary>The folder holding PeftHost.sln.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PeftHost.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}

/// <summary>
/// The device the suites run on: <c>PEFTHOST_BENCH_DEVICE</c> (<c>auto</c>, <c>cpu</c>,
/// <c>cuda</c>, <c>cuda:N</c>), <c>auto</c> by default — CUDA when libtorch has it. Child
/// processes inherit the variable, so every measurement of a run uses the same device.
/// </summary>
public static class BenchDevice
{
    /// <summary>The environment variable that picks the device.</summary>
    public const string Variable = "PEFTHOST_BENCH_DEVICE";

    /// <summary>The resolved device.</summary>
    public static torch.Device Current { get; } = PeftHost.Core.Runtime.DeviceSelector.Resolve(Environment.GetEnvironmentVariable(Variable));

    /// <summary>Waits for queued GPU work, so a stopwatch around it measures the work (a no-op on the CPU).</summary>
    public static void Synchronize()
    {
        if (Current.type == DeviceType.CUDA) torch.cuda.synchronize(Current);
    }
}

/// <summary>The machine the numbers were measured on.</summary>
public sealed record MachineInfo(string Cpu, int Cores, int TorchThreads, string Os, string Runtime, string Device)
{
    /// <summary>Reads /proc/cpuinfo and the runtime.</summary>
    public static MachineInfo Read()
    {
        string cpu = "unknown";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        return new MachineInfo(cpu, Environment.ProcessorCount, torch.get_num_threads(),
            System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            $".NET {Environment.Version}, TorchSharp {typeof(torch).Assembly.GetName().Version}", BenchDevice.Current.ToString());
    }

    /// <summary>One Markdown line.</summary>
    public override string ToString() => $"{Cpu}, {Cores} cores, libtorch threads {TorchThreads}; device {Device}; {Os}; {Runtime}";
}

/// <summary>Timing helpers: medians of repeated runs.</summary>
public static class Measure
{
    /// <summary>Runs <paramref name="action"/> once to warm up, then <paramref name="runs"/> times; returns the seconds of each.</summary>
    public static double[] Seconds(Action action, int runs)
    {
        action();
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            BenchDevice.Synchronize();
            times[i] = sw.Elapsed.TotalSeconds;
        }
        return times;
    }

    /// <summary>
    /// Seconds per run of each action, measured in <paramref name="rounds"/> interleaved rounds
    /// (see <see cref="InterleavedMedians(int, Func{double}[])"/>); returns each action's median.
    /// </summary>
    public static double[] InterleavedMedians(int rounds, params Action[] actions) =>
        InterleavedMedians(rounds, actions.Select(action => (Func<double>)(() =>
        {
            var sw = Stopwatch.StartNew();
            action();
            BenchDevice.Synchronize();
            return sw.Elapsed.TotalSeconds;
        })).ToArray());

    /// <summary>
    /// Each measurement (a function that runs something and returns its own figure) taken in
    /// <paramref name="rounds"/> interleaved rounds — every measurement once per round, the order
    /// rotating — after one warm-up each, so drift in the machine's speed lands on all of them
    /// alike; returns each measurement's median.
    /// </summary>
    public static double[] InterleavedMedians(int rounds, params Func<double>[] measurements)
    {
        foreach (var measure in measurements) measure();
        var values = measurements.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < measurements.Length; i++)
            {
                int k = (i + round) % measurements.Length;
                values[k].Add(measurements[k]());
            }
        return values.Select(Median).ToArray();
    }

    /// <summary>The median.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>Invariant-culture formatting.</summary>
    public static string F(double v, string format = "F1") => v.ToString(format, CultureInfo.InvariantCulture);
}

/// <summary>
/// bench/RESULTS.md, rewritten section by section so a suite run alone keeps the others. A
/// hand-written block at the end, from a line <c>&lt;!-- log --&gt;</c> to the end of the file (the
/// performance log), is kept verbatim and written back after the suite sections on every save.
/// </summary>
public sealed class ResultsReport
{
    /// <summary>The line that starts the hand-written block at the end of the file.</summary>
    public const string LogMarker = "<!-- log -->";

    private const string NewLog = LogMarker + "\n## Performance log\n\n" +
        "Hand-written, newest last: what changed and the figures before and after it (the harness keeps this block as it is).\n";

    private readonly MachineInfo _machine;
    private readonly Dictionary<string, (string Title, string Body)> _sections = [];
    private readonly string _log = NewLog;

    /// <summary>Reads <paramref name="path"/> if it exists.</summary>
    public ResultsReport(string path, MachineInfo machine)
    {
        Path = path;
        _machine = machine;
        if (!File.Exists(path)) return;
        string text = File.ReadAllText(path).ReplaceLineEndings("\n");
        var marker = Regex.Match(text, $@"^{Regex.Escape(LogMarker)}[ \t]*$", RegexOptions.Multiline);
        if (marker.Success)
        {
            _log = text[marker.Index..];
            text = text[..marker.Index];
        }
        var parts = Regex.Split(text, @"^<!-- suite:([\w-]+) -->\s*$", RegexOptions.Multiline);
        for (int i = 1; i + 1 < parts.Length; i += 2)
        {
            var lines = parts[i + 1].TrimStart('\n').Split('\n', 2);
            string title = lines[0].TrimStart('#', ' ').Trim();
            _sections[parts[i]] = (title, lines.Length > 1 ? lines[1].Trim('\n') + "\n" : "");
        }
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Replaces (or adds) the section of <paramref name="suite"/>.</summary>
    public void SetSection(string suite, string title, string body) =>
        _sections[suite] = (title, $"_Measured {DateTime.UtcNow:yyyy-MM-dd} on {_machine}; load average when the suite finished: {LoadAverage()}._\n\n{body.Trim('\n', '\r', ' ')}\n");

    /// <summary>The 1-minute load average: numbers taken while other work ran are marked as such.</summary>
    internal static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "unknown"; }
    }

    /// <summary>Writes the file (atomically): header, the suite sections in suite order, then the log block.</summary>
    public void Save()
    {
        var sb = new StringBuilder();
        sb.Append("# PeftHost benchmark results\n\n");
        sb.Append($"Everything above the `{LogMarker}` marker is written by the harness in `bench/` (see `bench/README.md`); do not edit it by hand.\n");
        sb.Append("Every figure is the median of several runs; comparisons are ratios measured side by side in one run.\n");
        sb.Append("The performance log at the end is hand-written and kept as it is.\n");
        foreach (var suite in BenchSuites.All.Select(s => s.Name).Concat(_sections.Keys).Distinct())
        {
            if (!_sections.TryGetValue(suite, out var s)) continue;
            sb.Append($"\n<!-- suite:{suite} -->\n## {s.Title}\n\n{s.Body}");
        }
        sb.Append('\n').Append(_log);
        if (!_log.EndsWith('\n')) sb.Append('\n');
        var bytes = new UTF8Encoding(false).GetBytes(sb.ToString());
        PeftHost.Core.IO.AtomicFile.Write(Path, s => s.Write(bytes));
    }
}
