using PeftHost.Bench;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Bench;

/// <summary>The harness's RESULTS.md handling: a suite replaces its own section only; the hand-written log survives.</summary>
public class ResultsReportTests
{
    private static readonly MachineInfo Machine = new("Test CPU", 2, 2, "Linux", ".NET", "cpu");

    [Fact]
    public void A_suite_run_replaces_its_section_and_keeps_the_others_and_the_log_verbatim()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "RESULTS.md");
        const string log = "<!-- log -->\n## Performance log\n\n- 2026-11-29: fixed X, 1.0 → 2.0.\n  <!-- suite:adapters --> inside the log stays text\n";
        File.WriteAllText(path, "# PeftHost benchmark results\n\nheader\n\n" +
            "<!-- suite:generation -->\n## Old generation\n\nold generation body\n\n" +
            "<!-- suite:training -->\n## Training\n\nkept training body | 1.48× |\n\n" + log);

        var report = new ResultsReport(path, Machine);
        report.SetSection("generation", "Generation", "new body\n");
        report.Save();

        string text = File.ReadAllText(path);
        Assert.Contains("## Generation\n\n_Measured ", text);
        Assert.Contains("Test CPU, 2 cores, libtorch threads 2; device cpu", text);
        Assert.Contains("new body\n", text);
        Assert.DoesNotContain("old generation body", text);
        Assert.Contains("<!-- suite:training -->\n## Training\n\nkept training body | 1.48× |\n", text);
        Assert.True(text.IndexOf("suite:generation", StringComparison.Ordinal) < text.IndexOf("suite:training", StringComparison.Ordinal), "suites in suite order");
        Assert.EndsWith("\n" + log, text);

        // Saving again changes nothing: no blank lines creep in, the log is still last.
        new ResultsReport(path, Machine).Save();
        Assert.Equal(text, File.ReadAllText(path));
    }

    [Fact]
    public void A_new_file_gets_an_empty_log_block()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "RESULTS.md");
        var report = new ResultsReport(path, Machine);
        report.SetSection("quantization", "Quantization", "body");
        report.Save();
        string text = File.ReadAllText(path);
        Assert.Contains("\n<!-- log -->\n## Performance log\n", text);
        Assert.True(text.IndexOf("suite:quantization", StringComparison.Ordinal) < text.IndexOf("<!-- log -->\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Interleaved_rounds_run_every_action_once_per_round_with_the_order_rotating()
    {
        var calls = new List<int>();
        var medians = Measure.InterleavedMedians(3, () => calls.Add(0), () => calls.Add(1), () => calls.Add(2));
        // One warm-up each, then rounds starting at action 0, 1, 2.
        Assert.Equal([0, 1, 2, 0, 1, 2, 1, 2, 0, 2, 0, 1], calls);
        Assert.Equal(3, medians.Length);
        Assert.All(medians, m => Assert.True(m >= 0));
    }

    [Fact]
    public void The_median_of_an_even_count_is_the_mean_of_the_middle_two()
    {
        Assert.Equal(2.5, Measure.Median([4, 1, 3, 2]));
        Assert.Equal(3, Measure.Median([5, 3, 1]));
    }
}
