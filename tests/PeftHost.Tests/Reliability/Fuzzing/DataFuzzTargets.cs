using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Parquet.Serialization;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.Data;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;

namespace PeftHost.Tests.Reliability.Fuzzing;

/// <summary>
/// The readers issue #23 found unfuzzed: data files (text, JSONL plain and gzip, CSV, Parquet), GPT-2
/// <c>vocab.json</c>/<c>merges.txt</c>, <c>.tiktoken</c> files and <c>model.safetensors.index.json</c>.
/// Data files are read as <c>loadDataset</c> reads them, under small limits (<see cref="Limits"/>) so that
/// mutated lengths reach the record and dataset caps.
/// </summary>
public static class DataFuzzTargets
{
    private const string Sentence = "Once upon a time, a little cat sat on the mat. 12 ü ☃";

    /// <summary>Records up to 4,096 characters, datasets up to 1 MiB: well above the seeds, reachable by mutations.</summary>
    public static readonly DataLimits Limits = new(4096, 1 << 20);

    private static (byte[], string) Bytes(Random rng, byte[] data) => Mutator.MutateBytes(rng, data, null);

    /// <summary>A line of text grown past the record limit, or the file repeated past the dataset limit.</summary>
    private static (byte[], string) Grow(Random rng, byte[] data)
    {
        if (rng.Next(2) == 0)
        {
            int at = rng.Next(data.Length);
            var filler = Enumerable.Repeat((byte)'z', Limits.MaxRecordChars > 0 ? (int)Limits.MaxRecordChars + rng.Next(100) : 1).ToArray();
            return ([.. data[..at], .. filler, .. data[at..]], $"{filler.Length} bytes inserted at {at}");
        }
        int times = (int)(Limits.MaxTotalBytes / Math.Max(1, data.Length)) + 2;
        var grown = new byte[data.Length * times];
        for (int i = 0; i < times; i++) data.CopyTo(grown, i * data.Length);
        return (grown, $"repeated {times} times");
    }

    private static void ReadAll(string file, TextSplit split = TextSplit.Lines)
    {
        foreach (var record in RecordSource.Open(file, split, Limits).WithinMemory(Limits, "fuzz limit").Read())
            _ = record.Fields.Count;
    }

    private static byte[] JsonlSeed() => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 12).Select(i =>
        $"{{\"text\": \"{Sentence} {i}\", \"label\": \"{(i % 2 == 0 ? "spam" : "ham")}\", \"n\": {i}, \"tags\": [1, \"x\"], \"none\": null}}\n")));

    /// <summary>Plain text, read by lines.</summary>
    public static FuzzTarget Text() => new("text data", "data.txt",
        Encoding.UTF8.GetBytes(string.Join("\n\n", Enumerable.Range(0, 12).Select(i => $"{Sentence} {i}\r\nSecond line {i}."))),
        FuzzTargets.Mix((6, Bytes), (3, Grow), (1, JsonMutator.MutateText)),
        (_, file) => { ReadAll(file, TextSplit.Lines); ReadAll(file, TextSplit.Paragraphs); ReadAll(file, TextSplit.Document); },
        typeof(DataFormatException));

    /// <summary>JSON Lines.</summary>
    public static FuzzTarget Jsonl() => new("JSONL data", "data.jsonl", JsonlSeed(),
        FuzzTargets.Mix((4, Bytes), (4, JsonMutator.MutateText), (2, Grow)),
        (_, file) => ReadAll(file),
        typeof(DataFormatException));

    /// <summary>gzip-compressed JSON Lines: the compressed bytes mutated, or the text before compressing.</summary>
    public static FuzzTarget JsonlGzip() => new("JSONL.gz data", "data.jsonl.gz", Gzip(JsonlSeed()),
        FuzzTargets.Mix((5, Bytes), (3, (rng, data) => Recompressed(rng, data, JsonMutator.MutateText)), (2, (rng, data) => Recompressed(rng, data, Grow))),
        (_, file) => ReadAll(file),
        typeof(DataFormatException));

    /// <summary>CSV with a header, quoted fields and line breaks inside quotes.</summary>
    public static FuzzTarget Csv() => new("CSV data", "data.csv",
        Encoding.UTF8.GetBytes("text,label,n\n" + string.Concat(Enumerable.Range(0, 12).Select(i => $"\"{Sentence}, \"\"{i}\"\"\nmore\",{(i % 2 == 0 ? "spam" : "ham")},{i}\n"))),
        FuzzTargets.Mix((5, Bytes), (3, JsonMutator.MutateText), (2, Grow)),
        (_, file) => ReadAll(file),
        typeof(DataFormatException));

    /// <summary>Parquet (Parquet.Net's own file of 12 rows).</summary>
    public static FuzzTarget Parquet() => new("Parquet data", "data.parquet", ParquetSeed(),
        FuzzTargets.Mix((10, Bytes)),
        (_, file) => ReadAll(file),
        typeof(DataFormatException));

    /// <summary>GPT-2 <c>vocab.json</c> beside a good <c>merges.txt</c>: loaded, then a sentence encoded and decoded.</summary>
    public static FuzzTarget Gpt2Vocab()
    {
        var (vocab, merges) = Gpt2Seed();
        return new FuzzTarget("vocab.json (GPT-2 BPE)", "vocab.json", vocab,
            FuzzTargets.Mix((6, JsonMutator.Mutate), (2, JsonMutator.MutateText), (2, Bytes)),
            (folder, _) => LoadAndUse(folder),
            typeof(TokenizerFormatException))
        {
            Setup = folder => File.WriteAllBytes(Path.Combine(folder, "merges.txt"), merges),
            ExpectedInMessage = (folder, _) => folder,
        };
    }

    /// <summary>GPT-2 <c>merges.txt</c> beside a good <c>vocab.json</c>.</summary>
    public static FuzzTarget Gpt2Merges()
    {
        var (vocab, merges) = Gpt2Seed();
        return new FuzzTarget("merges.txt (GPT-2 BPE)", "merges.txt", merges,
            FuzzTargets.Mix((6, Bytes), (4, JsonMutator.MutateText)),
            (folder, _) => LoadAndUse(folder),
            typeof(TokenizerFormatException))
        {
            Setup = folder => File.WriteAllBytes(Path.Combine(folder, "vocab.json"), vocab),
            ExpectedInMessage = (folder, _) => folder,
        };
    }

    /// <summary>A tiktoken file (base64 token, rank) as LLaMA-3 ships it in <c>tokenizer.model</c>.</summary>
    public static FuzzTarget Tiktoken() => new("tiktoken", "tokenizer.model", TiktokenSeed(),
        FuzzTargets.Mix((6, Bytes), (4, JsonMutator.MutateText)),
        (folder, _) => LoadAndUse(folder),
        typeof(TokenizerFormatException))
    {
        ExpectedInMessage = (folder, _) => folder,
    };

    /// <summary><c>model.safetensors.index.json</c> of the tiny model split in two shards: <see cref="ModelLoader.Load(string)"/>.</summary>
    public static FuzzTarget ShardIndex()
    {
        string staging = Path.Combine(Path.GetTempPath(), "pefthost-tests", "shard-seed-" + Guid.NewGuid().ToString("N"));
        Seeds.WriteTinyModel(staging);
        var shards = new Dictionary<string, byte[]>();
        var index = new JsonObject();
        using (var model = SafeTensorsFile.Open(Path.Combine(staging, CheckpointReader.SingleFileName)))
        {
            var names = model.Entries.Keys.Order(StringComparer.Ordinal).ToList();
            for (int s = 0; s < 2; s++)
            {
                string shard = $"model-0000{s + 1}-of-00002.safetensors";
                string part = Path.Combine(staging, shard);
                var tensors = names.Where((_, i) => i % 2 == s).ToDictionary(n => n, n => model.Read(n));
                SafeTensorsWriter.Write(part, tensors);
                foreach (var t in tensors.Values) t.Dispose();
                shards[shard] = File.ReadAllBytes(part);
                foreach (var n in tensors.Keys) index[n] = shard;
            }
        }
        var config = File.ReadAllBytes(Path.Combine(staging, ModelLoader.ConfigFileName));
        Directory.Delete(staging, recursive: true);
        var seed = Encoding.UTF8.GetBytes(new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = shards.Values.Sum(b => b.Length) }, ["weight_map"] = index }.ToJsonString());
        return new FuzzTarget("model.safetensors.index.json", CheckpointReader.IndexFileName, seed,
            FuzzTargets.Mix((6, JsonMutator.Mutate), (2, JsonMutator.MutateText), (2, Bytes)),
            (folder, _) => ModelLoader.Load(folder).Dispose(),
            typeof(ModelFormatException))
        {
            Setup = folder =>
            {
                File.WriteAllBytes(Path.Combine(folder, ModelLoader.ConfigFileName), config);
                foreach (var (name, bytes) in shards) File.WriteAllBytes(Path.Combine(folder, name), bytes);
            },
            ExpectedInMessage = (folder, _) => folder,
        };
    }

    private static void LoadAndUse(string folder)
    {
        var tokenizer = TokenizerLoader.Load(folder);
        tokenizer.Decode(tokenizer.Encode(Sentence));
    }

    private static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(data);
        return buffer.ToArray();
    }

    private static (byte[], string) Recompressed(Random rng, byte[] compressed, Func<Random, byte[], (byte[], string)> mutate)
    {
        using var input = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var text = new MemoryStream();
        input.CopyTo(text);
        var (mutated, what) = mutate(rng, text.ToArray());
        return (Gzip(mutated), "inside the gzip: " + what);
    }

    private sealed class Row
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
        public int N { get; set; }
    }

    private static byte[] ParquetSeed()
    {
        var rows = Enumerable.Range(0, 12).Select(i => new Row { Text = $"{Sentence} {i}", Label = i % 2 == 0 ? "spam" : "ham", N = i }).ToList();
        using var buffer = new MemoryStream();
        ParquetSerializer.SerializeAsync(rows, buffer).GetAwaiter().GetResult();
        return buffer.ToArray();
    }

    /// <summary>The reduced GPT-2 vocabulary of <see cref="Seeds.ByteLevelTokenizerJson"/> as vocab.json and merges.txt.</summary>
    private static (byte[] Vocab, byte[] Merges) Gpt2Seed()
    {
        var model = JsonNode.Parse(Seeds.ByteLevelTokenizerJson())!["model"]!;
        var merges = new StringBuilder("#version: 0.2\n");
        foreach (var merge in model["merges"]!.AsArray())
            merges.Append(merge is JsonArray pair ? $"{pair[0]} {pair[1]}" : merge!.GetValue<string>()).Append('\n');
        return (Encoding.UTF8.GetBytes(model["vocab"]!.ToJsonString()), Encoding.UTF8.GetBytes(merges.ToString()));
    }

    private static byte[] TiktokenSeed()
    {
        var lines = new StringBuilder();
        for (int b = 0; b < 256; b++) lines.Append(Convert.ToBase64String([(byte)b])).Append(' ').Append(b).Append('\n');
        string[] words = ["th", "he", "in", "at", "on", "an", " t", " a", " c", " s", " m", "the", " the", "at ", " cat", " sat", " mat", "ime", " time", "Once", " upon", " little"];
        for (int i = 0; i < words.Length; i++) lines.Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(words[i]))).Append(' ').Append(256 + i).Append('\n');
        return Encoding.UTF8.GetBytes(lines.ToString());
    }
}
