using System.IO.Compression;
using System.Text;
using PeftHost.Cli.Commands;
using PeftHost.Core.Data;
using PeftHost.Core.Runtime;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Reliability.Training;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Data;

/// <summary>
/// Issue #23 item 4: data files that expand past memory (a small gzip holding one huge line, a single-line text
/// file, a gzip of millions of tiny records) must be refused naming the file and the limit, before memory runs out.
/// Driven through the recipe API (<c>loadDataset</c> under <c>--max-memory 64</c>, which bounds the host step too)
/// and <c>peft import spamassassin</c>. The inputs are generated compressed on the fly and are far smaller than
/// the attacks' (the limits are lowered through <c>--max-memory</c> instead).
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class DataFileLimitTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>Writes <paramref name="parts"/> (lazily made) through gzip.</summary>
    private string Gzip(string name, IEnumerable<string> parts)
    {
        string path = Path.Combine(_h.Folder, name);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var writer = new StreamWriter(gzip, new UTF8Encoding(false), 1 << 20);
        foreach (var part in parts) writer.Write(part);
        return path;
    }

    private static IEnumerable<string> Repeat(string text, long times)
    {
        for (long i = 0; i < times; i++) yield return text;
    }

    private (int Code, string Out, string Err, long PeakMiB) LoadUnderBudget(string file, string options = "{ format: \"text\" }")
    {
        ProcessMemory.ResetPeak();
        long before = Environment.WorkingSet;
        var run = _h.Run("load.js", $$"""
            import { loadDataset } from "peft";
            loadDataset("./{{Path.GetFileName(file)}}", {{options}});
            """, "--max-memory", "64");
        return (run.Code, run.Out, run.Err, Math.Max(0, ProcessMemory.PeakResidentBytes() - before) >> 20);
    }

    [Fact]
    public void A_gzip_holding_one_huge_line_is_refused_at_the_record_limit()
    {
        // 40 Mi characters in one JSON line (about 40 KB compressed); the limit under --max-memory 64 is 16 Mi.
        string file = Gzip("one-line.jsonl.gz", [.. Repeat("{\"text\": \"", 1), .. Repeat(new string('a', 1 << 20), 40), "\"}\n"]);
        var run = LoadUnderBudget(file);
        RecipeAssert.FailsAt((run.Code, run.Out, run.Err), PeftCli.Failure, "load.js", 2, 1, "one-line.jsonl.gz:1: a record longer than 16,777,216 characters");
        Assert.True(run.PeakMiB < 400, $"resident memory peaked {run.PeakMiB} MiB above its start");
        ReliabilityLog.Record("data", $"gzip ({new FileInfo(file).Length / 1024} KiB) of one 40 Mi-character JSONL line, --max-memory 64: \"{run.Err.Split('\n')[0].Replace(_h.Folder + "/", "")}\", peak +{run.PeakMiB} MiB");
    }

    [Fact]
    public void A_single_line_text_file_is_refused_at_the_record_limit()
    {
        string file = Path.Combine(_h.Folder, "one-line.txt");
        using (var writer = new StreamWriter(file)) foreach (var part in Repeat(new string('b', 1 << 20), 20)) writer.Write(part);
        foreach (var split in new[] { "lines", "paragraphs", "document" })
        {
            var run = LoadUnderBudget(file, $"{{ format: \"text\", split: \"{split}\" }}");
            Assert.True(run.Code == PeftCli.Failure, $"split {split}: exit {run.Code}\n{run.Err}");
            Assert.Contains("one-line.txt", run.Err.Split('\n')[0]);
            Assert.Contains("a record longer than 16,777,216 characters", run.Err.Split('\n')[0]);
        }
    }

    [Fact]
    public void A_gzip_of_millions_of_tiny_records_is_refused_at_the_dataset_limit()
    {
        string file = Gzip("tiny.jsonl.gz", Repeat("{\"text\":\"a\"}\n", 2_000_000));
        var run = LoadUnderBudget(file);
        RecipeAssert.FailsAt((run.Code, run.Out, run.Err), PeftCli.Failure, "load.js", 2, 1, "the records read so far take more than 64 MiB in memory (the limit is --max-memory)");
        Assert.Matches(@"tiny\.jsonl\.gz:\d+: ", run.Err.Split('\n')[0]);
        Assert.True(run.PeakMiB < 400, $"resident memory peaked {run.PeakMiB} MiB above its start");
        ReliabilityLog.Record("data", $"gzip ({new FileInfo(file).Length / 1024} KiB) of 2,000,000 tiny JSONL records, --max-memory 64: \"{run.Err.Split('\n')[0].Replace(_h.Folder + "/", "")}\", peak +{run.PeakMiB} MiB");
    }

    [Fact]
    public void A_csv_row_longer_than_the_limit_is_refused()
    {
        string file = Path.Combine(_h.Folder, "rows.csv");
        using (var writer = new StreamWriter(file))
        {
            writer.Write("text,label\n\"");
            foreach (var part in Repeat(new string('c', 1 << 20), 20)) writer.Write(part);
            writer.Write("\",x\n");
        }
        var run = LoadUnderBudget(file);
        RecipeAssert.FailsAt((run.Code, run.Out, run.Err), PeftCli.Failure, "load.js", 2, 1, "rows.csv:2: a record longer than 16,777,216 characters");
    }

    [Fact]
    public void Import_spamassassin_refuses_a_line_past_the_record_limit()
    {
        string corpus = Gzip("corpus.jsonl.gz", ["{\"id\":\"1\",\"group\":\"easy_ham-1\",\"label\":\"ham\",\"text\":\"", .. Repeat(new string('d', 1 << 20), 33), "\"}\n"]);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = PeftCli.Run(["import", "spamassassin", corpus, "--out", Path.Combine(_h.Folder, "imported")], stdout, stderr);
        Assert.Equal(PeftCli.Failure, code);
        Assert.Contains($"corpus.jsonl.gz:1: a record longer than {DataLimits.DefaultMaxRecordChars:N0} characters", stderr.ToString());
        Assert.False(File.Exists(Path.Combine(_h.Folder, "imported", SpamAssassinImporter.DataFileName)));
    }
}
