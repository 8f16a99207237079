using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace PeftHost.Tests.Recipes;

/// <summary>
/// Training writes TensorBoard event files under <c>OUTPUT/tensorboard/</c>. They are read back here with this test's own
/// parser of the published format (TensorFlow's record framing with masked CRC-32C, the <c>Event</c> protobuf), which
/// refuses a record whose checksums are wrong.
/// </summary>
public sealed class TensorBoardTests : IDisposable
{
    private const string Recipe = """
        import { loadModel, getPeftModel, loadDataset, train, log } from "peft";
        const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, targetModules: ["q_proj", "v_proj"] });
        const data = loadDataset(["Sparky the dragon liked to fly.", "Lily found a red ball.", "Tom had a kite."], { format: "text", maxLength: 16 });
        const result = train(model, data, { maxSteps: 4, batchSize: 2, logEvery: 1, validation: data, evalEvery: 2, TENSORBOARD });
        log("losses", JSON.stringify(result.losses));
        log("evals", JSON.stringify(result.evaluations));
        """;

    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void Training_writes_every_scalar_with_its_step_in_valid_event_records()
    {
        var run = _h.RunOk(Recipe.Replace("TENSORBOARD", "tensorBoard: true"));
        string file = Assert.Single(Directory.GetFiles(Path.Combine(_h.Output, "train", "tensorboard")));
        Assert.Contains("events.out.tfevents.", Path.GetFileName(file));
        var events = EventFile.Read(File.ReadAllBytes(file));

        Assert.Equal("brain.Event:2", events[0].FileVersion);
        var scalars = events.SelectMany(e => e.Values.Select(v => (e.Step, v.Tag, v.Value))).ToList();
        double[] losses = JsonNode.Parse(Line(run.Out, "losses"))!.AsArray().Select(n => n!.GetValue<double>()).ToArray();
        Assert.Equal([1, 2, 3, 4], Steps(scalars, "train/loss"));
        for (int step = 1; step <= 4; step++)
            Assert.Equal((float)losses[step - 1], scalars.Single(s => s.Tag == "train/loss" && s.Step == step).Value);
        foreach (var tag in new[] { "train/learning_rate", "train/grad_norm", "train/tokens_per_second", "train/epoch", "train/memory_mib" })
            Assert.Equal([1, 2, 3, 4], Steps(scalars, tag));
        Assert.All(scalars.Where(s => s.Tag is "train/tokens_per_second" or "train/memory_mib" or "train/grad_norm"), s => Assert.True(s.Value > 0, s.Tag));

        var evaluations = JsonNode.Parse(Line(run.Out, "evals"))!.AsArray();
        Assert.Equal([2, 4], Steps(scalars, "eval/loss"));
        Assert.Equal([2, 4], Steps(scalars, "eval/perplexity"));
        foreach (var evaluation in evaluations)
        {
            int step = evaluation!["step"]!.GetValue<int>();
            Assert.Equal((float)evaluation["metrics"]!["eval_loss"]!.GetValue<double>(), scalars.Single(s => s.Tag == "eval/loss" && s.Step == step).Value);
        }
    }

    [Fact]
    public void The_parser_refuses_a_record_whose_checksum_does_not_match()
    {
        _h.RunOk(Recipe.Replace("TENSORBOARD", "tensorBoard: true").Replace("maxSteps: 4", "maxSteps: 1"));
        byte[] bytes = File.ReadAllBytes(Assert.Single(Directory.GetFiles(Path.Combine(_h.Output, "train", "tensorboard"))));
        EventFile.Read(bytes);
        bytes[^5] ^= 0x01; // the last byte of the last record's data
        Assert.Throws<InvalidDataException>(() => EventFile.Read(bytes));
    }

    [Fact]
    public void TensorBoard_false_writes_no_event_files()
    {
        _h.RunOk(Recipe.Replace("TENSORBOARD", "tensorBoard: false"));
        Assert.False(Directory.Exists(Path.Combine(_h.Output, "train", "tensorboard")));
    }

    [Fact]
    public void The_test_crc32c_is_the_castagnoli_checksum()
    {
        Assert.Equal(0xE3069283u, EventFile.Crc32C(Encoding.ASCII.GetBytes("123456789")));
    }

    private static int[] Steps(List<(long Step, string Tag, float Value)> scalars, string tag) =>
        scalars.Where(s => s.Tag == tag).Select(s => (int)s.Step).ToArray();

    private static string Line(string output, string label) =>
        output.Split('\n').Single(l => l.StartsWith(label + " ", StringComparison.Ordinal))[(label.Length + 1)..].Trim();

    /// <summary>A reader of TensorFlow event files written from the format's description, independent of PeftHost's writer.</summary>
    private static class EventFile
    {
        public sealed record Event(double WallTime, long Step, string? FileVersion, List<(string Tag, float Value)> Values);

        private static readonly uint[] Table = Enumerable.Range(0, 256).Select(i =>
        {
            uint c = (uint)i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            return c;
        }).ToArray();

        public static uint Crc32C(ReadOnlySpan<byte> data)
        {
            uint crc = 0xFFFFFFFFu;
            foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc ^ 0xFFFFFFFFu;
        }

        private static uint Masked(ReadOnlySpan<byte> data)
        {
            uint crc = Crc32C(data);
            return unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
        }

        public static List<Event> Read(byte[] file)
        {
            var events = new List<Event>();
            int at = 0;
            while (at < file.Length)
            {
                if (file.Length - at < 12) throw new InvalidDataException($"truncated record header at byte {at}");
                var lengthBytes = file.AsSpan(at, 8);
                ulong length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
                if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 8, 4)) != Masked(lengthBytes))
                    throw new InvalidDataException($"length checksum mismatch at byte {at}");
                at += 12;
                if ((ulong)(file.Length - at) < length + 4) throw new InvalidDataException($"truncated record at byte {at}");
                var data = file.AsSpan(at, (int)length);
                if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + (int)length, 4)) != Masked(data))
                    throw new InvalidDataException($"data checksum mismatch at byte {at}");
                events.Add(ParseEvent(data.ToArray()));
                at += (int)length + 4;
            }
            return events;
        }

        private static Event ParseEvent(byte[] data)
        {
            double wall = 0;
            long step = 0;
            string? version = null;
            var values = new List<(string, float)>();
            foreach (var (field, wire, start, end, varint) in Fields(data))
            {
                if (field == 1 && wire == 1) wall = BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan(start, 8));
                else if (field == 2 && wire == 0) step = (long)varint;
                else if (field == 3 && wire == 2) version = Encoding.UTF8.GetString(data, start, end - start);
                else if (field == 5 && wire == 2)
                {
                    byte[] summary = data[start..end];
                    foreach (var value in Fields(summary).Where(f => f.Field == 1 && f.Wire == 2))
                    {
                        byte[] v = summary[value.Start..value.End];
                        string tag = "";
                        float simple = float.NaN;
                        foreach (var f in Fields(v))
                        {
                            if (f.Field == 1 && f.Wire == 2) tag = Encoding.UTF8.GetString(v, f.Start, f.End - f.Start);
                            if (f.Field == 2 && f.Wire == 5) simple = BinaryPrimitives.ReadSingleLittleEndian(v.AsSpan(f.Start, 4));
                        }
                        values.Add((tag, simple));
                    }
                }
            }
            return new Event(wall, step, version, values);
        }

        /// <summary>The fields of a protobuf message: number, wire type, where the payload starts and ends, and a varint's value.</summary>
        private static IEnumerable<(int Field, int Wire, int Start, int End, ulong Varint)> Fields(byte[] message)
        {
            int at = 0;
            while (at < message.Length)
            {
                ulong key = Varint(message, ref at);
                int field = (int)(key >> 3), wire = (int)(key & 7);
                switch (wire)
                {
                    case 0: { int start = at; ulong v = Varint(message, ref at); yield return (field, wire, start, at, v); break; }
                    case 1: yield return (field, wire, at, at + 8, 0); at += 8; break;
                    case 5: yield return (field, wire, at, at + 4, 0); at += 4; break;
                    case 2: { int length = (int)Varint(message, ref at); yield return (field, wire, at, at + length, 0); at += length; break; }
                    default: throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"unexpected wire type {wire}"));
                }
            }
        }

        private static ulong Varint(byte[] bytes, ref int at)
        {
            ulong value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = bytes[at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
        }
    }
}
