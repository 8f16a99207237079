using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Core.Peft;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>The Adapters panel: rows from model snapshots; its actions run on the job thread against the real PeftModel.</summary>
public sealed class AdaptersViewModelTests
{
    [Fact]
    public void Rows_show_the_adapters_with_the_active_one_starred()
    {
        using var h = HeadlessModel.WithTinyLora("first", "second");
        var vm = h.Adapters;
        Assert.Equal(["first", "second"], vm.Model.Adapters.Select(a => a.Name));
        Assert.Equal("first", vm.Model.Active?.Name);
        var rows = vm.FormatRows(70);
        Assert.StartsWith("* first", rows[0]);
        Assert.StartsWith("  second", rows[1]);
        Assert.Contains("lora (LORA)", rows[0]);
        long parameters = h.Model.Peft!["first"].Adapter.NamedParameters().Sum(p => p.Parameter.numel());
        Assert.Equal(896, parameters); // r=4 on q_proj (32→32) and v_proj (32→16) of 2 layers: 2·(4·32+32·4 + 4·32+16·4)
        Assert.Contains("896 params", rows[0]);
        Assert.Equal(0, vm.SelectedIndex);
    }

    [Fact]
    public void Set_active_makes_the_selected_adapter_the_model_s_active_adapter()
    {
        using var h = HeadlessModel.WithTinyLora("first", "second");
        h.Adapters.SelectedIndex = 1;
        var result = h.Adapters.SetActive();
        Assert.True(result.Started, result.Message);
        h.Settle();
        Assert.Equal("second", h.Model.Peft!.ActiveAdapter);
        Assert.Equal("second", h.Adapters.Model.Active?.Name);
        Assert.Equal(1, h.Adapters.SelectedIndex); // the selection follows the adapter, not the row number
    }

    [Fact]
    public void Merge_folds_the_adapter_into_the_weights_and_a_second_merge_takes_it_out()
    {
        using var h = HeadlessModel.WithTinyLora("default");
        Assert.True(h.Adapters.ToggleMerge().Started);
        h.Settle();
        Assert.True(h.Model.Peft!["default"].Adapter.IsMerged);
        Assert.True(h.Adapters.Model.Adapters[0].IsMerged);
        Assert.Contains("merged", h.Adapters.FormatRows(80)[0]);

        h.Adapters.ToggleMerge();
        h.Settle();
        Assert.False(h.Model.Peft!["default"].Adapter.IsMerged);
    }

    [Fact]
    public void Disable_bypasses_the_adapters_until_enabled_again()
    {
        using var h = HeadlessModel.WithTinyLora("default");
        h.Adapters.ToggleDisabled();
        h.Settle();
        Assert.True(h.Model.Peft!.Base.Hooks.Routing.AdaptersDisabled);
        Assert.True(h.Adapters.Model.AdaptersDisabled);
        Assert.Contains("disabled", h.Adapters.FormatRows(80)[0]);

        h.Adapters.ToggleDisabled();
        h.Settle();
        Assert.False(h.Model.Peft!.Base.Hooks.Routing.AdaptersDisabled);
    }

    [Fact]
    public void Save_writes_a_peft_adapter_folder_that_load_reads_back()
    {
        using var dir = new TempDir();
        using var h = HeadlessModel.WithTinyLora("default");
        Assert.True(h.Adapters.Save(dir.Path).Started);
        h.Settle();
        Assert.True(File.Exists(Path.Combine(dir.Path, AdapterFiles.ConfigFileName)));
        Assert.True(File.Exists(Path.Combine(dir.Path, "adapter_model.safetensors")));

        Assert.True(h.Adapters.Load(dir.Path).Started);
        h.Settle();
        string loaded = Path.GetFileName(dir.Path);
        Assert.Equal(["default", loaded], h.Adapters.Model.Adapters.Select(a => a.Name));
        Assert.Equal(loaded, h.Model.Peft!.ActiveAdapter);
    }

    [Fact]
    public void Actions_are_refused_without_a_selection_or_while_a_job_runs()
    {
        using var h = new HeadlessModel();
        Assert.False(h.Adapters.SetActive().Started);
        Assert.Equal("no model loaded", h.Adapters.LastMessage);

        using var gate = new ManualResetEventSlim();
        using var h2 = HeadlessModel.WithTinyLora("default");
        h2.Jobs.TryStart(JobKind.Recipe, "tiny-train.js", _ => gate.Wait(), out _);
        var refused = h2.Adapters.ToggleMerge();
        Assert.False(refused.Started);
        Assert.Equal("busy: tiny-train.js is running (Ctrl-C stops it)", refused.Message);
        gate.Set();
        h2.Settle();
        Assert.False(h2.Model.Peft!["default"].Adapter.IsMerged);
        Assert.False(h2.Adapters.Save("  ").Started);
    }

    [Fact]
    public void The_snapshot_counts_parameters_and_tensor_bytes()
    {
        using var h = HeadlessModel.WithTinyLora("default");
        var snapshot = h.Adapters.Model;
        var (trainable, all) = h.Model.Peft!.CountParameters();
        Assert.Equal(trainable, snapshot.Trainable);
        Assert.Equal(all, snapshot.All);
        Assert.InRange(snapshot.TensorBytes, all * 4, all * 4 + 64 * 1024); // float32 parameters, plus small buffers
        Assert.Contains(h.Seen, e => e is ModelChangedEvent);
    }

    [Fact]
    public void Open_model_replaces_the_model_and_a_bad_folder_fails_naming_it()
    {
        using var dir = new TempDir();
        using var h = HeadlessModel.WithTinyLora("default");
        Assert.False(h.Adapters.OpenModel("  ").Started);
        Assert.Equal("give a model folder (config.json, weights, tokenizer)", h.Adapters.LastMessage);

        // A missing folder and a folder that is no model each fail with a message that names the folder or file.
        string missing = dir["nowhere"];
        Directory.CreateDirectory(dir["empty"]);
        foreach (var (folder, named) in new[] { (missing, missing), (dir["empty"], dir["empty"]) })
        {
            Assert.True(h.Adapters.OpenModel(folder).Started);
            h.Settle();
            var failed = Assert.IsType<JobFinishedEvent>(h.Seen.Last(e => e is JobFinishedEvent));
            Assert.Equal(JobOutcome.Failed, failed.Outcome);
            Assert.Contains(named, failed.Message);
            Assert.Equal("/models/tiny", h.Adapters.Model.ModelPath); // the model in use stays
        }

        Assert.True(h.Adapters.OpenModel(TestPaths.Stories260k).Started);
        h.Settle();
        Assert.Equal(TestPaths.Stories260k, h.Adapters.Model.ModelPath);
        Assert.Empty(h.Adapters.Model.Adapters); // the adapters belonged to the model it replaced
        Assert.Equal("stories260k has no chat template", h.Playground.NoChatTemplate);
    }
}
