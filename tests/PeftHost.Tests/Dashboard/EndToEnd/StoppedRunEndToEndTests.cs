using System.Text.RegularExpressions;
using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Core.Recipes;

namespace PeftHost.Tests.Dashboard.EndToEnd;

/// <summary>
/// At 80×24 in tmux: a run stopped with Ctrl-C leaves its newest checkpoint in the Adapters panel, where <c>l</c> loads
/// it and <c>e</c> exports it merged to GGUF; <c>r</c> in Recipes resumes the run to its end in its own folder; <c>h</c>
/// shows the runs; the dataset chooser (<c>d</c>) and presets (<c>p</c>) work by keyboard. Captures become screenshots.
/// </summary>
public sealed partial class DashboardEndToEndTests
{
    [TmuxFact]
    public void A_stopped_run_offers_its_checkpoint_to_load_and_export_and_resumes_from_Recipes_to_its_end()
    {
        using var tmux = Tmux.Start(Start(), 80, 24, _dir.Path);
        tmux.WaitFor(s => s.Contains("tiny-train.js", StringComparison.Ordinal) && s.Contains("succeeded: load model", StringComparison.Ordinal),
            StartTimeout, "the Recipes panel and the loaded model");
        StartRun(tmux, 40);
        tmux.SendKeys("C-c");
        tmux.WaitFor(s => s.Contains("■ cancelled: tiny-train.js", StringComparison.Ordinal), RunTimeout, "the stopped run");
        string output = Assert.Single(Directory.GetDirectories(Runs));
        string run = Path.GetFileName(output);
        string checkpoint = RunAdapters.NewestCheckpoint(output) ?? throw new Xunit.Sdk.XunitException("the stopped run left no checkpoint");
        string shown = Path.GetRelativePath(_dir.Path, checkpoint);

        // Recipes offers to resume it, naming the run and how it ended.
        tmux.SendKeys("2");
        tmux.WaitForText($"⟦ Resume ⟧ {run} (cancelled)", KeyTimeout);
        Shot(tmux, "recipes-resume", "Recipes");

        // Adapters: the newest checkpoint is in Load from and Export GGUF; l loads it, e exports it merged.
        tmux.SendKeys("4");
        // A text field shows the start of a path longer than itself: Export GGUF's label is one column longer than Load
        // from's, so a path that fills Load from (a run stopped at checkpoint-12 rather than -8) is clipped there by one.
        const string exportLabel = "⟦ Export GGUF ⟧ ";
        string exportShown = shown[..Math.Min(shown.Length, 80 - 2 - exportLabel.Length)];
        tmux.WaitFor(s => s.Contains($"⟦ Load from ⟧ {shown}", StringComparison.Ordinal) && s.Contains(exportLabel + exportShown, StringComparison.Ordinal),
            KeyTimeout, "the checkpoint offered in Load from and Export GGUF");
        tmux.SendKeys("l");
        tmux.WaitFor(s => s.Contains("* default", StringComparison.Ordinal) && s.Contains("✓ succeeded: load adapter", StringComparison.Ordinal),
            KeyTimeout, "the checkpoint loaded as an adapter");
        tmux.SendKeys("e");
        string exported = tmux.WaitFor(s => s.Contains("✓ succeeded: export GGUF", StringComparison.Ordinal), RunTimeout, "the export's outcome");
        string name = Path.GetFileName(checkpoint) + "-merged.gguf";
        // The whole outcome, at 80 columns.
        Assert.Matches($@"✓ succeeded: export GGUF — exported {Regex.Escape(name)} \([\d.]+ (KiB|MiB)\) in [\d.]+ s", exported);
        Assert.True(File.Exists(checkpoint + "-merged.gguf"), "no GGUF beside the checkpoint");
        Shot(tmux, "adapters-export", "Adapters");

        // r in Recipes resumes the run in its own folder, with its --set values, to the end.
        tmux.SendKeys("2");
        tmux.WaitForText("⟦ Resume ⟧", KeyTimeout);
        tmux.SendKeys("r");
        string finished = tmux.WaitFor(s => s.Contains("✓ finished tiny-train.js", StringComparison.Ordinal) && s.Contains("✓ succeeded: tiny-train.js", StringComparison.Ordinal),
            RunTimeout, "the resumed run to finish");
        Assert.Contains("step 40/40", finished);
        Assert.Single(Directory.GetDirectories(Runs));
        var record = RunRecord.Read(output)!;
        Assert.Equal(RunStatus.Succeeded, record.Status);
        Assert.Single(record.Resumed);
        Assert.Contains(new KeyValuePair<string, string>("steps", "40"), record.Parameters);
        tmux.SendKeys("2");
        tmux.WaitFor(s => s.Contains("┤Recipes├", StringComparison.Ordinal) && !s.Contains("⟦ Resume ⟧", StringComparison.Ordinal), KeyTimeout, "Resume gone once the run completed");

        // A second, quick run; h shows both, newest first; Space marks them to compare.
        tmux.SendKeys("Down");
        tmux.WaitFor(s => Regex.IsMatch(s, @"\$ peft run recipes/zz-other\.js"), KeyTimeout, "zz-other.js selected");
        tmux.SendKeys("F5");
        tmux.WaitForText("✓ succeeded: zz-other.js", RunTimeout);
        tmux.SendKeys("3");
        tmux.WaitForText("┤Run├", KeyTimeout);
        tmux.SendKeys("h");
        tmux.WaitForText("history: 2 runs in the runs folder", KeyTimeout);
        tmux.SendKeys("Down");
        tmux.SendKeys("Space");
        tmux.WaitFor(s => s.Contains($"* ", StringComparison.Ordinal) && s.Contains(run, StringComparison.Ordinal), KeyTimeout, "the resumed run marked");
        Shot(tmux, "run-history", "Run");
        tmux.SendKeys("q");
        tmux.WaitForText("[exited 0]", KeyTimeout);
    }

    [TmuxFact]
    public void The_dataset_chooser_previews_and_picks_and_presets_save_and_load_by_keyboard()
    {
        // A workspace of its own: its data/ holds a text file and an instruction file.
        string workspace = _dir["ws"];
        Directory.CreateDirectory(Path.Combine(workspace, "data"));
        File.WriteAllText(Path.Combine(workspace, "data", "a-stories.txt"), "Tom had a red ball.\n\nLily saw the moon cookie.\n\nBen told his dog a story.\n");
        File.WriteAllText(Path.Combine(workspace, "data", "b-qa.jsonl"),
            "{\"instruction\": \"Name a colour.\", \"output\": \"Red.\"}\n{\"instruction\": \"Name a pet.\", \"output\": \"A dog.\"}\n");
        Directory.CreateDirectory(_dir["recipes"]);
        File.WriteAllText(_dir["recipes/sft-data.js"], """
            // Fine-tunes on a file chosen with the dataset chooser.
            import { defineParams, log } from "peft";
            const p = defineParams({ dataset: "data/a-stories.txt", steps: 4 });
            log(p.dataset);
            """);
        using var tmux = Tmux.Start(Start("--no-model", workspace), 80, 24, _dir.Path);
        tmux.WaitFor(s => s.Contains("sft-data.js", StringComparison.Ordinal) && s.Contains("dataset", StringComparison.Ordinal), StartTimeout, "the Recipes panel");

        // d: the data files and a preview of the selected one; Down previews the next; Enter picks it into the form.
        tmux.SendKeys("d");
        tmux.WaitFor(s => s.Contains("dataset — Enter picks, Esc closes", StringComparison.Ordinal) && s.Contains("Tom had a red ball.", StringComparison.Ordinal),
            KeyTimeout, "the chooser previewing the text file");
        tmux.SendKeys("Down");
        tmux.WaitFor(s => s.Contains("Name a colour.", StringComparison.Ordinal), KeyTimeout, "the instruction file's preview");
        Shot(tmux, "recipes-dataset", "Recipes");
        tmux.SendKeys("Enter");
        tmux.WaitFor(s => !s.Contains("dataset — Enter picks", StringComparison.Ordinal) && s.Contains("--set dataset=data/b-qa.jsonl", StringComparison.Ordinal),
            KeyTimeout, "the picked file in the form's command");

        // p: no presets yet, the name field has focus; Enter saves the form under that name.
        tmux.SendKeys("p");
        tmux.WaitForText("presets — Enter loads, Esc closes", KeyTimeout);
        tmux.Type("qa");
        tmux.SendKeys("Enter");
        tmux.WaitForText("saved preset 'qa' of sft-data.js (1 changed value)", KeyTimeout);
        Assert.True(File.Exists(Path.Combine(workspace, ".pefthost", "presets", "sft-data.json")), "no presets file in the workspace");
        tmux.SendKeys("Escape");
        tmux.WaitFor(s => !s.Contains("presets — Enter loads", StringComparison.Ordinal), KeyTimeout, "the presets closed");

        // d then Esc leaves the field as it was.
        tmux.SendKeys("d");
        tmux.WaitForText("dataset — Enter picks, Esc closes", KeyTimeout);
        tmux.SendKeys("Escape");
        tmux.WaitFor(s => !s.Contains("dataset — Enter picks", StringComparison.Ordinal) && s.Contains("--set dataset=data/b-qa.jsonl", StringComparison.Ordinal),
            KeyTimeout, "Esc closing the chooser with the field unchanged");
        // Picking the text file again (its path is the default) drops the --set; the preset brings it back.
        tmux.SendKeys("d");
        tmux.WaitForText("dataset — Enter picks, Esc closes", KeyTimeout);
        tmux.SendKeys("Up");
        tmux.WaitForText("Tom had a red ball.", KeyTimeout);
        tmux.SendKeys("Enter");
        tmux.WaitFor(s => !s.Contains("dataset — Enter picks", StringComparison.Ordinal) && !s.Contains("--set dataset=", StringComparison.Ordinal),
            KeyTimeout, "the default file picked back");
        tmux.SendKeys("p");
        tmux.WaitFor(s => s.Contains("presets — Enter loads", StringComparison.Ordinal) && s.Contains("1 preset for sft-data.js", StringComparison.Ordinal), KeyTimeout, "the saved preset listed");
        Shot(tmux, "recipes-presets", "Recipes");
        tmux.SendKeys("Enter");
        tmux.WaitFor(s => s.Contains("loaded preset 'qa' into sft-data.js", StringComparison.Ordinal) && !s.Contains("presets — Enter loads", StringComparison.Ordinal)
            && s.Contains("--set dataset=data/b-qa.jsonl", StringComparison.Ordinal), KeyTimeout, "the preset loaded into the form");
        tmux.SendKeys("q");
        tmux.WaitForText("[exited 0]", KeyTimeout);
    }
}
