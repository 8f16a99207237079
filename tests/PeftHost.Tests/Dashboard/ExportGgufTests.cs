using System.Text.RegularExpressions;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Export;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Dashboard;

/// <summary>
/// Export GGUF in the Adapters panel: an adapter folder merged into a fresh copy of the dashboard's model and written
/// as one model GGUF beside the folder, as <c>peft export gguf --merge</c> writes it, on the job thread; the model in
/// use, its adapter and its merged state are untouched; a folder that is no adapter fails naming it and writes nothing.
/// </summary>
public sealed class ExportGgufTests
{
    [Fact]
    public void Export_gguf_writes_the_adapter_merged_into_a_fresh_model_and_leaves_the_live_model_as_it_was()
    {
        using var dir = new TempDir();
        string adapter = dir["run/adapter"];
        GgufLoraExportTests.SaveSeededAdapter(adapter);
        using var h = new HeadlessModel();
        Assert.True(h.Commands.LoadModel(TestPaths.Stories260k).Started);
        h.Settle();
        Assert.True(h.Adapters.Load(adapter).Started);
        h.Settle();
        var before = LiveParameters(h);
        var snapshotBefore = h.Adapters.Model;

        var started = h.Adapters.ExportGguf(adapter + "/");
        Assert.True(started.Started, started.Message);
        string gguf = dir["run/adapter-merged.gguf"];
        Assert.Equal($"exporting {gguf} (merging into a fresh copy of the model)…", started.Message);
        h.Settle();
        var finished = h.Seen.OfType<JobFinishedEvent>().Last();
        Assert.Equal(JobOutcome.Succeeded, finished.Outcome);
        Assert.Equal("export GGUF", finished.Name);
        Assert.Matches(new Regex(@"^exported adapter-merged\.gguf \(\d+\.\d (KiB|MiB)\) in \d+\.\d s$"), finished.Message);
        // The whole outcome fits the 80-column message line.
        Assert.True(PeftHost.Cli.Dashboard.ViewModels.DashboardViewModel.OutcomeText(finished).Length <= 80, finished.Message);
        Assert.Contains(h.Seen.OfType<PeftHost.Core.Telemetry.LogEvent>(), l => l.Message.StartsWith($"exported {gguf}: {TestPaths.Stories260k} with {adapter} merged", StringComparison.Ordinal));

        // The file holds the merged weights: those of a model with the adapter merged by PEFT's merge, not the base's.
        var read = GgufTestReader.Read(gguf);
        Assert.Equal(3u, read.Version);
        using (var expected = ModelLoader.Load(TestPaths.Stories260k))
        using (var baseModel = ModelLoader.Load(TestPaths.Stories260k))
        {
            var peft = new PeftModel(expected, new StaticMethodCatalog(new LoraMethod()));
            peft.LoadAdapter(adapter);
            var merged = Weight(peft.MergeAndUnload(), "model.layers.0.self_attn.v_proj");
            var plain = Weight(baseModel, "model.layers.0.self_attn.v_proj");
            var (shape, type, values) = read.Tensors["blk.0.attn_v.weight"];
            Assert.Equal(0u, type);
            Assert.Equal([merged.Length / shape[1], shape[1]], shape);
            Assert.InRange(MaxDifference(values!, merged), 0, 1e-6);
            Assert.True(MaxDifference(values!, plain) > 1e-3, "the exported weight is the base's: the adapter was not merged");
        }
        Assert.True(File.Exists(dir["run/adapter-merged.Modelfile"]));
        Assert.Equal(["adapter", "adapter-merged.Modelfile", "adapter-merged.gguf"],
            Directory.GetFileSystemEntries(dir["run"]).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // The live model is as it was: same weights, its adapter active and unmerged.
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), LiveParameters(h).Keys.Order(StringComparer.Ordinal));
        foreach (var (name, values) in LiveParameters(h)) Assert.True(values.SequenceEqual(before[name]), $"{name} changed in the live model");
        Assert.Equal(snapshotBefore.Adapters, h.Model.Snapshot().Adapters);
        Assert.False(Assert.Single(h.Model.Snapshot().Adapters).IsMerged);
    }

    [Fact]
    public void Export_gguf_of_a_folder_that_is_no_adapter_fails_naming_it_and_writes_nothing()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["run/notes"]);
        using var h = new HeadlessModel();
        Assert.False(h.Adapters.ExportGguf(dir["run/notes"]).Started); // no model yet
        Assert.Equal("no model loaded: open the model the adapter was trained on (o)", h.Adapters.LastMessage);
        Assert.True(h.Commands.LoadModel(TestPaths.Stories260k).Started);
        h.Settle();
        Assert.False(h.Adapters.ExportGguf("  ").Started);

        Assert.True(h.Adapters.ExportGguf(dir["run/notes"]).Started);
        h.Settle();
        var finished = h.Seen.OfType<JobFinishedEvent>().Last();
        Assert.Equal(JobOutcome.Failed, finished.Outcome);
        Assert.Contains(dir["run/notes"], finished.Message);
        Assert.Equal(["notes"], Directory.GetFileSystemEntries(dir["run"]).Select(Path.GetFileName));
    }

    private static Dictionary<string, float[]> LiveParameters(HeadlessModel h) =>
        h.Model.Peft!.Base.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().cpu().data<float>().ToArray());

    private static float[] Weight(CausalLanguageModel model, string module) =>
        model.named_parameters().Single(p => p.name == module + ".weight").parameter.detach().cpu().contiguous().data<float>().ToArray();

    private static double MaxDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        return worst;
    }
}
