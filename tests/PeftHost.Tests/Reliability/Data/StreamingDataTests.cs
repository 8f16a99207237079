using System.IO.Compression;
using System.Text;
using PeftHost.Cli.Commands;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Reliability.Training;

namespace PeftHost.Tests.Reliability.Data;

/// <summary>
/// Issue #23 item 4, second half: a dataset larger than memory streams into training (<c>loadDataset(…, { streaming: true })</c>)
/// instead of being refused. The file here expands to 4 GiB (one gzip member of 1 MiB written 4,096 times, a few MiB on disk),
/// far past <c>--max-memory 64</c>; loaded whole it is refused at that limit, streamed it trains in seconds.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class StreamingDataTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private string FourGibibytesOfStories()
    {
        var block = new StringBuilder();
        string[] lines =
        [
            "{\"text\": \"Once upon a time there was a little girl named Lily. She liked to play in the park with her dog.\"}",
            "{\"text\": \"Tom had a big red ball. He threw it to his friend, and they laughed all day.\"}",
        ];
        for (int i = 0; block.Length < (1 << 20); i++) block.Append(lines[i % 2]).Append('\n');
        byte[] member;
        using (var buffer = new MemoryStream())
        {
            using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
                gzip.Write(Encoding.UTF8.GetBytes(block.ToString()));
            member = buffer.ToArray();
        }
        string path = Path.Combine(_h.Folder, "stories.jsonl.gz");
        using var file = File.Create(path);
        for (int i = 0; i < 4096; i++) file.Write(member); // a gzip file may hold several members, read one after another
        return path;
    }

    [Fact]
    public void A_file_larger_than_memory_streams_into_training()
    {
        FourGibibytesOfStories();
        const string Train = """
            import { loadModel, getPeftModel, loadDataset, train, log } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 2, targetModules: ["q_proj", "v_proj"] });
            const data = loadDataset("./stories.jsonl.gz", { format: "text", maxLength: 32, streaming: true, shuffleBuffer: 64 });
            log(`size ${data.size}, streaming ${data.streaming}`);
            const run = train(model, data, { maxSteps: 4, batchSize: 4, logEvery: 1, learningRate: 1e-3 });
            log(`TRAINED ${run.steps} steps, final loss ${run.finalLoss.toFixed(3)}`);
            """;
        var run = _h.Run("stream.js", Train, "--max-memory", "64", "--timeout", "120");
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("size null, streaming true", run.Out);
        Assert.Contains("TRAINED 4 steps", run.Out);

        // Loaded whole, the same file is refused at the memory limit (naming the file and the limit).
        var whole = _h.Run("whole.js", """
            import { loadDataset } from "peft";
            loadDataset("./stories.jsonl.gz", { format: "text", maxLength: 32 });
            """, "--max-memory", "64", "--timeout", "120");
        Assert.Equal(PeftCli.Failure, whole.Code);
        Assert.Contains("stories.jsonl.gz:", whole.Err);
        Assert.Contains("(the limit is --max-memory)", whole.Err);
    }

    [Theory]
    [InlineData("loadDataset(\"./small.jsonl\", { format: \"text\", streaming: true, balanceBy: \"label\" })", "loadDataset: balanceBy needs every record at once")]
    [InlineData("loadDataset(\"./small.jsonl\", { format: \"text\", streaming: true, shuffle: true })", "loadDataset: shuffle orders every record at once")]
    [InlineData("loadDataset(\"./small.jsonl\", { format: \"text\", shuffleBuffer: 10 })", "loadDataset: shuffleBuffer applies to streaming: true only")]
    [InlineData("loadDataset(\"./small.jsonl\", { format: \"text\", streaming: true }).split(0.1)", "dataset.split: './small.jsonl' is streamed")]
    [InlineData("evaluate(getPeftModel(loadModel(\"models/stories260k\"), { method: \"lora\", r: 2 }), loadDataset(\"./small.jsonl\", { format: \"text\", streaming: true }))", "evaluate: './small.jsonl' is streamed")]
    [InlineData("train(getPeftModel(loadModel(\"models/stories260k\"), { method: \"lora\", r: 2 }), loadDataset(\"./small.jsonl\", { format: \"text\", streaming: true }))", "train: './small.jsonl' is streamed: its length is not known before it is read, so give maxSteps")]
    public void What_a_stream_cannot_do_is_refused_by_name(string call, string message)
    {
        File.WriteAllText(Path.Combine(_h.Folder, "small.jsonl"), "{\"text\": \"Lily went to the park.\", \"label\": \"a\"}\n{\"text\": \"Tom found a ball.\", \"label\": \"b\"}\n");
        var run = _h.Run("refused.js", $$"""
            import { loadModel, getPeftModel, loadDataset, train, evaluate } from "peft";
            {{call}};
            """);
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains(message, run.Err);
    }
}
