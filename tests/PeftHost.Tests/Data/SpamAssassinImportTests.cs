using System.IO.Compression;
using System.Text;
using System.Text.Json;
using PeftHost.Core.Data;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Data;

public class SpamAssassinImportTests
{
    private const string Plain = "From someone@example.com  Thu Aug 22 12:36:23 2002\nReceived: from relay.example.com\n\tby mx.example.com; Thu, 22 Aug 2002\nSubject: Re: New Sequences\n Window\nX-Loop: exmh-workers@example.com\n\nHello there,\n\n\n\nsee   you.\n";

    private const string Multipart =
        "Subject: =?iso-8859-1?Q?Caf=E9_offer?=\nContent-Type: multipart/alternative; boundary=\"XYZ\"\n\n" +
        "preamble\n--XYZ\nContent-Type: text/plain\n\n\n\n--XYZ\nContent-Type: text/html; charset=\"iso-8859-1\"\nContent-Transfer-Encoding: quoted-printable\n\n" +
        "<html><body><p>Buy <b>now</b> &amp; save=\n 50%</p><script>x()</script><br>Caf=E9</body></html>\n--XYZ--\n";

    [Fact]
    public void Mail_text_keeps_subject_and_body_and_drops_other_headers()
    {
        var (subject, body) = MailText.Extract(Plain);
        Assert.Equal("Re: New Sequences Window", subject);
        Assert.Equal("Hello there,\n\nsee you.", body);

        (subject, body) = MailText.Extract(Multipart);
        Assert.Equal("Café offer", subject);
        Assert.Equal("Buy now & save 50%\n\nCafé", body); // the empty text/plain part is passed over for the HTML one

        string base64 = "Subject: =?utf-8?B?" + Convert.ToBase64String(Encoding.UTF8.GetBytes("Grüße")) + "?=\nContent-Transfer-Encoding: base64\nContent-Type: text/plain; charset=utf-8\n\n"
            + Convert.ToBase64String(Encoding.UTF8.GetBytes("naïve body")) + "\n";
        Assert.Equal(("Grüße", "naïve body"), MailText.Extract(base64));
        Assert.Equal("one two", MailText.Truncate("one two three", 9));
    }

    private static string WriteCorpus(TempDir dir, params object[] rows)
    {
        string path = dir["corpus.jsonl.gz"];
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        foreach (var row in rows) gz.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(row) + "\n"));
        return path;
    }

    [Fact]
    public void Import_writes_compact_records_a_licence_and_a_readme_deterministically()
    {
        using var dir = new TempDir();
        string input = WriteCorpus(dir,
            new { id = "00001", group = "easy-ham-1", label = "ham", text = Plain },
            new { id = "00002", group = "spam-2", label = "spam", text = Multipart });
        var result = SpamAssassinImporter.Import(input, dir["out"], maxBodyChars: 12);
        Assert.Equal(2, result.Messages);
        Assert.Equal(1, result.Groups["spam-2"]);

        var records = new JsonlSource(result.DataFile).Read().ToList();
        Assert.Equal(["id", "group", "label", "subject", "body"], records[0].Fields.Keys);
        Assert.Equal("Hello there,", records[0].Require("body"));
        Assert.Equal("Café offer", records[1].Require("subject"));
        Assert.DoesNotContain(records, r => r.Fields.Values.Any(v => v!.Contains("Received") || v.Contains("X-Loop")));
        Assert.Contains("PDDL", File.ReadAllText(dir["out/LICENSE"]));
        Assert.Contains("| spam-2 | 1 |", File.ReadAllText(dir["out/README.md"]));

        var again = SpamAssassinImporter.Import(input, dir["again"], maxBodyChars: 12);
        Assert.Equal(File.ReadAllBytes(result.DataFile), File.ReadAllBytes(again.DataFile));
    }

    [Fact]
    public void Import_names_the_line_of_a_bad_record()
    {
        using var dir = new TempDir();
        string input = WriteCorpus(dir, new { id = "1", group = "spam-1", label = "spam", text = Plain }, new { id = "2", group = "spam-1", text = Plain });
        var e = Assert.Throws<DataFormatException>(() => SpamAssassinImporter.Import(input, dir["out"]));
        Assert.Equal(2, e.Line);
        Assert.Contains("missing field 'label'", e.Message);
    }

    [Fact]
    public void The_bundled_dataset_reads_as_classification_data()
    {
        string path = Path.Combine(TestPaths.RepoRoot, "data", "spamassassin", SpamAssassinImporter.DataFileName);
        var source = RecordSource.Open(path);
        var shape = new ClassificationShape(128, new PromptTemplate("Subject: {subject}\n{body}\nAnswer:"))
        {
            LabelWords = new Dictionary<string, string> { ["spam"] = "spam", ["ham"] = "ham" },
            FitField = "body",
        };
        var heldOut = source.Where(r => r.Require("group").EndsWith("-2", StringComparison.Ordinal), "group *-2");
        var records = heldOut.Read().ToList();
        Assert.Equal(2796, records.Count);
        Assert.Equal(1396, records.Count(r => r.Require("label") == "spam"));
        var examples = shape.Tokenize(records.Take(50), new ByteTokenizer());
        Assert.All(examples, e => Assert.True(e.Length <= 128 && e.PredictedTokens is 4 or 5));
        Assert.True(new FileInfo(path).Length < 3_000_000);
    }
}
