using System.Diagnostics;
using System.Text.Json;
using PeftHost.Cli.Commands;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Training;

/// <summary>
/// File-system faults around a run: a FIFO where a data file or <c>config.json</c> should be (a
/// reader would block for good), a disk that fills up while <c>metrics.jsonl</c> is appended, and an
/// adapter folder read while another process saves it again and again.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class FileSystemFaultTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void A_fifo_given_as_a_data_file_or_config_json_is_refused_not_waited_on()
    {
        MakeFifo(Path.Combine(_h.Folder, "pipe.txt"));
        string model = Path.Combine(_h.Folder, "model");
        Directory.CreateDirectory(model);
        foreach (var file in Directory.EnumerateFiles(TestPaths.Stories260k))
            if (Path.GetFileName(file) != "config.json") File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        MakeFifo(Path.Combine(model, "config.json"));

        (int Code, string Out, string Err) data = (0, "", ""), load = (0, "", ""), cli = (0, "", "");
        Bounded.Run(() => data = _h.Run("data.js", """
            import { loadDataset } from "peft";
            loadDataset("./pipe.txt", { format: "text" });
            """), TimeSpan.FromSeconds(120), maxPeakGrowthMiB: 1024);
        RecipeAssert.FailsAt(data, PeftCli.Failure, "data.js", 2, 1, "pipe.txt: is a named pipe (FIFO), not a regular file");

        Bounded.Run(() => load = _h.Run("model.js", """
            import { loadModel } from "peft";
            loadModel("./model");
            """), TimeSpan.FromSeconds(120), maxPeakGrowthMiB: 1024);
        RecipeAssert.FailsAt(load, PeftCli.Failure, "model.js", 2, 1, "config.json: is a named pipe (FIFO), not a regular file");

        Bounded.Run(() => cli = CliTests.Run("generate", "--model", model, "--prompt", "Once"), TimeSpan.FromSeconds(120), maxPeakGrowthMiB: 1024);
        Assert.Equal(PeftCli.Failure, cli.Code);
        Assert.StartsWith($"error: {Path.Combine(model, "config.json")}: is a named pipe (FIFO)", cli.Err);
        ReliabilityLog.Record("file system", $"FIFO as data file, as config.json (recipe and CLI): refused at once, \"{cli.Err.Split('\n')[0]}\"");
    }

    [Fact]
    public void A_disk_that_fills_up_during_training_leaves_no_torn_line_in_metrics_jsonl()
    {
        using var disk = TmpfsMount.TryCreate(2 << 20);
        if (disk is null)
        {
            Console.WriteLine("not run: mounting a tmpfs needs root");
            return;
        }
        string output = Path.Combine(disk.Path, "out");
        string recipe = _h.Write("long.js", """
            import { loadModel, getPeftModel, loadDataset, train } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2, loraDropout: 0, targetModules: ["q_proj"] });
            const data = loadDataset(["Sparky the dragon lived in a big cave.", "Lily found a red ball."], { format: "text", maxLength: 16 });
            train(model, data, { maxSteps: 100000, batchSize: 2, logEvery: 1, plotLossCurve: false });
            """);
        using var run = PeftProcess.Run(recipe, output, "--timeout", "600");
        string metrics = Path.Combine(output, "train", "metrics.jsonl");
        WaitFor(() => File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 3, run, "three metrics lines");

        disk.Fill();
        // Lines keep coming until the metrics file's last page is full; then every append fails.
        WaitFor(() => run.Stderr.Contains("could not be appended") || run.Stdout.Contains("could not be appended"), run, "a failed append");
        Thread.Sleep(2000); // more failed appends, each cut back
        run.Kill();

        byte[] bytes = File.ReadAllBytes(metrics);
        Assert.Equal((byte)'\n', bytes[^1]);
        var lines = File.ReadAllLines(metrics);
        foreach (var line in lines) JsonDocument.Parse(line).Dispose(); // every line whole
        ReliabilityLog.Record("file system", $"disk full during training (2 MiB tmpfs): metrics.jsonl kept {lines.Length} whole lines, no torn last line; the run warned \"{(run.Stdout + run.Stderr).Split('\n').First(l => l.Contains("could not be appended")).Trim()}\"");
    }

    [Fact]
    public void An_adapter_folder_read_while_it_is_saved_again_never_mixes_two_saves()
    {
        // The writer alternates two adapters of different ranks into one folder; the reader (a recipe
        // run beside it) loads that folder over and over. A config of one save with the weights of the
        // other does not load ("does not fit"); one save's files always do.
        string writerOut = Path.Combine(_h.Folder, "shared");
        string writer = _h.Write("writer.js", """
            import { loadModel, getPeftModel, saveAdapter, log } from "peft";
            const small = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj"] });
            const large = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 8, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj"] });
            saveAdapter(small, "adapter");
            log("READY");
            for (let i = 0; i < 100000; i++) saveAdapter(i % 2 ? small : large, "adapter");
            """);
        using var saving = PeftProcess.Run(writer, writerOut, "--timeout", "600");
        WaitFor(() => saving.Stdout.Contains("READY"), saving, "the first save");

        var read = _h.Run("reader.js", """
            import { loadModel, loadAdapter, deleteAdapter, log } from "peft";
            const model = loadModel("models/stories260k");
            let loaded = 0, failed = [];
            for (let i = 0; i < 300; i++) {
              try { loadAdapter(model, "./shared/adapter", "a" + i); deleteAdapter(model, "a" + i); loaded++; }
              catch (e) { failed.push(e.message); }
            }
            log(`loaded ${loaded}, failed ${failed.length}`);
            for (const f of failed.slice(0, 3)) log("failure: " + f);
            """);
        Assert.False(saving.HasExited, $"the writer stopped early\n{saving.Stdout}\n{saving.Stderr}");
        saving.Kill();
        Assert.True(read.Code == 0, read.Err);
        Assert.True(read.Out.Contains("loaded 300, failed 0"), read.Out);
        ReliabilityLog.Record("file system", $"adapter folder loaded 300 times while another process re-saved it (r=2 / r=8 alternately): {read.Out.Split('\n').First(l => l.Contains(", failed ")).Trim()}");
    }

    private static void MakeFifo(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    private static void WaitFor(Func<bool> condition, PeftProcess process, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.False(process.HasExited, $"peft ended before {what}\nstdout:\n{process.Stdout}\nstderr:\n{process.Stderr}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(180), $"no {what} after 180 s\nstdout:\n{process.Stdout}\nstderr:\n{process.Stderr}");
            Thread.Sleep(50);
        }
    }
}
