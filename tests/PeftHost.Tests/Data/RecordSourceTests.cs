using System.IO.Compression;
using System.Text;
using Parquet.Serialization;
using PeftHost.Core.Data;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Data;

public class RecordSourceTests
{
    [Fact]
    public void Jsonl_reads_fields_and_skips_blank_lines()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a.jsonl"], "{\"text\":\"hello\",\"n\":3,\"ok\":true,\"none\":null}\n\n{\"text\":\"world\",\"nested\":{\"a\":1}}\n");
        var records = RecordSource.Open(dir["a.jsonl"]).Read().ToList();
        Assert.Equal(2, records.Count);
        Assert.Equal("hello", records[0].Require("text"));
        Assert.Equal("3", records[0].Optional("n"));
        Assert.Equal("true", records[0].Optional("ok"));
        Assert.Null(records[0].Optional("none"));
        Assert.Equal(1, records[0].Line);
        Assert.Equal(3, records[1].Line);
        Assert.Equal("{\"a\":1}", records[1].Optional("nested"));
    }

    [Fact]
    public void Gzipped_jsonl_is_decompressed()
    {
        using var dir = new TempDir();
        using (var file = File.Create(dir["a.jsonl.gz"]))
        using (var gz = new GZipStream(file, CompressionLevel.Fastest))
            gz.Write(Encoding.UTF8.GetBytes("{\"text\":\"zipped\"}\n{\"text\":\"too\"}\n"));
        var source = RecordSource.Open(dir["a.jsonl.gz"]);
        Assert.IsType<JsonlSource>(source);
        Assert.Equal(["zipped", "too"], source.Read().Select(r => r.Require("text")));
    }

    [Fact]
    public void Bad_jsonl_line_names_file_and_line()
    {
        using var dir = new TempDir();
        string path = dir["bad.jsonl"];
        File.WriteAllText(path, "{\"text\":\"ok\"}\n{\"text\":\"ok\"}\n{\"text\": oops}\n");
        var e = Assert.Throws<DataFormatException>(() => new JsonlSource(path).Read().ToList());
        Assert.Equal(path, e.File);
        Assert.Equal(3, e.Line);
        Assert.StartsWith($"{path}:3: invalid JSON", e.Message);

        File.WriteAllText(path, "{\"text\":\"ok\"}\n[1,2]\n");
        e = Assert.Throws<DataFormatException>(() => new JsonlSource(path).Read().ToList());
        Assert.Equal(2, e.Line);
        Assert.Contains("expected a JSON object", e.Message);
    }

    [Fact]
    public void Missing_field_names_file_and_line()
    {
        using var dir = new TempDir();
        string path = dir["m.jsonl"];
        File.WriteAllText(path, "{\"text\":\"ok\"}\n{\"body\":\"no text here\"}\n");
        var shape = new CausalTextShape(16);
        var e = Assert.Throws<DataFormatException>(() => shape.Tokenize(new JsonlSource(path).Read(), new ByteTokenizer()));
        Assert.Equal(2, e.Line);
        Assert.Contains($"{path}:2: missing field 'text'", e.Message);
    }

    [Fact]
    public void Csv_handles_quotes_escapes_and_line_breaks()
    {
        using var dir = new TempDir();
        string path = dir["d.csv"];
        File.WriteAllText(path, "text,label\r\n\"Hello, world\",ham\r\n\"He said \"\"hi\"\"\nand left\",spam\r\nplain,ham\n");
        var records = RecordSource.Open(path).Read().ToList();
        Assert.Equal(3, records.Count);
        Assert.Equal("Hello, world", records[0].Require("text"));
        Assert.Equal("He said \"hi\"\nand left", records[1].Require("text"));
        Assert.Equal("spam", records[1].Require("label"));
        Assert.Equal([2L, 3L, 5L], records.Select(r => r.Line));
    }

    [Fact]
    public void Csv_row_with_wrong_field_count_names_the_line()
    {
        using var dir = new TempDir();
        string path = dir["d.csv"];
        File.WriteAllText(path, "text,label\na,b\n\"multi\nline\",x\nonly-one-field\n");
        var e = Assert.Throws<DataFormatException>(() => new CsvSource(path).Read().ToList());
        Assert.Equal(5, e.Line);
        Assert.Contains("expected 2 fields", e.Message);

        File.WriteAllText(path, "text,label\n\"never closed,x\n");
        e = Assert.Throws<DataFormatException>(() => new CsvSource(path).Read().ToList());
        Assert.Equal(2, e.Line);
        Assert.Contains("unterminated", e.Message);
    }

    public sealed class Row
    {
        public string? Prompt { get; set; }
        public string? Response { get; set; }
        public int Label { get; set; }
    }

    [Fact]
    public async Task Parquet_file_written_here_reads_back_with_field_mapping()
    {
        using var dir = new TempDir();
        string path = dir["pairs.parquet"];
        var rows = new[]
        {
            new Row { Prompt = "Add 2 and 2", Response = "4", Label = 1 },
            new Row { Prompt = "Capital of France?", Response = "Paris", Label = 0 },
        };
        await using (var stream = File.Create(path)) await ParquetSerializer.SerializeAsync(rows, stream);

        var source = RecordSource.Open(path);
        Assert.IsType<ParquetSource>(source);
        var records = source.Read().ToList();
        Assert.Equal(2, records.Count);
        Assert.Equal("Capital of France?", records[1].Require("Prompt"));
        Assert.Equal("1", records[0].Require("Label"));
        Assert.Equal(2, records[1].Line);

        var shape = new InstructionShape(128, InstructionTemplate.Chat) { Fields = new FieldMapping { Prompt = "Prompt", Response = "Response", Input = null } };
        var examples = shape.Tokenize(records, new ByteTokenizer());
        var tok = new ByteTokenizer();
        Assert.Equal("<|user|>\nAdd 2 and 2\n<|assistant|>\n4", tok.Decode(examples[0].InputIds));
        Assert.Equal("4", tok.Decode(examples[0].Labels.Where(l => l >= 0)));
    }

    [Fact]
    public void Text_file_splits_into_documents_paragraphs_or_lines()
    {
        using var dir = new TempDir();
        string path = dir["t.txt"];
        File.WriteAllText(path, "first line\nstill first\n\n\nsecond para\n");
        Assert.Single(new TextFileSource(path).Read());
        var paragraphs = new TextFileSource(path, TextSplit.Paragraphs).Read().ToList();
        Assert.Equal(["first line\nstill first", "second para"], paragraphs.Select(r => r.Require("text")));
        Assert.Equal([1L, 5L], paragraphs.Select(r => r.Line));
        Assert.Equal(3, new TextFileSource(path, TextSplit.Lines).Read().Count());
    }

    [Fact]
    public void Balancing_undersamples_every_class_to_the_rarest_deterministically()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["b.jsonl"], Enumerable.Range(0, 30).Select(i => $"{{\"id\":{i},\"label\":\"{(i % 5 == 0 ? "spam" : "ham")}\"}}"));
        var balanced = RecordSource.Open(dir["b.jsonl"]).BalanceBy("label", seed: 1);
        var kept = balanced.Read().ToList();
        Assert.Equal(6, kept.Count(r => r.Require("label") == "spam"));
        Assert.Equal(6, kept.Count(r => r.Require("label") == "ham"));
        Assert.Equal(kept.Select(r => r.Line).Order(), kept.Select(r => r.Line)); // file order kept
        Assert.Equal(kept.Select(r => r.Line), balanced.Read().Select(r => r.Line));
        Assert.NotEqual(kept.Select(r => r.Line), RecordSource.Open(dir["b.jsonl"]).BalanceBy("label", seed: 2).Read().Select(r => r.Line));
    }

    [Fact]
    public void Filters_change_the_fingerprint()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["g.jsonl"], "{\"text\":\"a\",\"group\":\"spam-1\"}\n{\"text\":\"b\",\"group\":\"spam-2\"}\n");
        var all = RecordSource.Open(dir["g.jsonl"]);
        var first = all.WhereField("group", "spam-1");
        Assert.Equal(["a"], first.Read().Select(r => r.Require("text")));
        Assert.NotEqual(all.Fingerprint, first.Fingerprint);
    }
}
