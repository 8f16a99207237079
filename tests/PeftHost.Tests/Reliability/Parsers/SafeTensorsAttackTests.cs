using System.Buffers.Binary;
using System.Text.Json.Nodes;
using System.Text;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.Models;
using PeftHost.Core.Runtime;
using PeftHost.Tests.Reliability.Fuzzing;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Parsers;

/// <summary>
/// Hand-aimed attacks on safetensors headers, each against every tensor of the seed file where it
/// applies: huge and negative lengths, offsets out of range or overlapping, bad dtypes and shapes,
/// truncations. Each must be refused with a <see cref="ModelFormatException"/> naming the file and
/// saying what is wrong, before any tensor memory is allocated.
/// </summary>
public sealed class SafeTensorsAttackTests
{
    private static readonly byte[] Seed = Seeds.SafeTensors();

    /// <summary>Every attack: a name, the damaged file, and a fragment the error must contain.</summary>
    private static IEnumerable<(string Name, byte[] File, string Expected)> Cases()
    {
        var (header, body) = Seeds.SplitSafeTensors(Seed)!.Value;
        var root = JsonNode.Parse(header)!.AsObject();
        var tensors = root.Where(kv => kv.Key != "__metadata__").Select(kv => kv.Key).ToList();

        // The 8-byte header length.
        foreach (ulong length in new ulong[] { 0, 1, 7, (ulong)(header.Length + 1), (ulong)(Seed.Length - 7), 100_000_001, (ulong)int.MaxValue + 1, 1UL << 62, ulong.MaxValue, ulong.MaxValue - 7 })
        {
            var file = (byte[])Seed.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(file, length);
            string expected = length <= (ulong)(Seed.Length - 8) ? "header" : "exceeds the file";
            yield return ($"header length {length}", file, expected);
        }

        // Truncations: inside the length prefix, inside the header, inside the data.
        foreach (int cut in new[] { 0, 3, 7, 8, 9, 8 + header.Length / 2, 8 + header.Length - 1, 8 + header.Length + 1, Seed.Length - 1 })
            yield return ($"truncated to {cut} bytes", Seed[..cut], cut < 8 ? "too short" : cut < 8 + header.Length ? "exceeds the file" : "out of range");

        foreach (var tensor in tensors)
        {
            var entry = root[tensor]!.AsObject();
            long begin = entry["data_offsets"]![0]!.GetValue<long>(), end = entry["data_offsets"]![1]!.GetValue<long>();
            if (end > begin)
            {
                yield return ($"{tensor}: end past the data", With(tensor, "data_offsets", new JsonArray(begin, body.Length + 1)), "out of range");
                yield return ($"{tensor}: negative begin", With(tensor, "data_offsets", new JsonArray(-8, end)), "out of range");
                yield return ($"{tensor}: end before begin", With(tensor, "data_offsets", new JsonArray(end, begin)), "out of range");
                yield return ($"{tensor}: offsets near long.MaxValue", With(tensor, "data_offsets", new JsonArray(long.MaxValue - 4, long.MaxValue)), "out of range");
                yield return ($"{tensor}: offsets beyond long", With(tensor, "data_offsets", JsonNode.Parse("[0, 18446744073709551616]")!), "must be two integers");
                yield return ($"{tensor}: size does not match its shape", With(tensor, "data_offsets", new JsonArray(begin, end - 1)), "needs");
                var other = tensors.FirstOrDefault(t => t != tensor && root[t]!["data_offsets"]![1]!.GetValue<long>() - root[t]!["data_offsets"]![0]!.GetValue<long>() == end - begin);
                if (other is not null)
                    yield return ($"{tensor}: overlaps {other}", With(tensor, "data_offsets", root[other]!["data_offsets"]!.DeepClone()), "overlap");
            }
            yield return ($"{tensor}: fractional offsets", With(tensor, "data_offsets", JsonNode.Parse($"[{begin}.5, {end}]")!), "must be two integers");
            yield return ($"{tensor}: offsets as strings", With(tensor, "data_offsets", new JsonArray($"{begin}", $"{end}")), "must be two integers");
            yield return ($"{tensor}: three offsets", With(tensor, "data_offsets", new JsonArray(begin, end, end)), "data_offsets");
            yield return ($"{tensor}: no offsets", Without(tensor, "data_offsets"), "data_offsets");
            foreach (var dtype in new JsonNode?[] { "F8_E4M3", "f32", "", "COMPLEX64", "U64", 32, null, new JsonArray("F32") })
                yield return ($"{tensor}: dtype {dtype?.ToJsonString() ?? "null"}", With(tensor, "dtype", dtype), dtype is JsonValue v && v.TryGetValue<string>(out _) ? "unsupported dtype" : "dtype");
            yield return ($"{tensor}: no dtype", Without(tensor, "dtype"), "dtype");
            yield return ($"{tensor}: negative dimension", With(tensor, "shape", new JsonArray(-1, 4)), "non-negative");
            yield return ($"{tensor}: dimensions overflowing", With(tensor, "shape", new JsonArray(1L << 32, 1L << 32, 1L << 32)), "overflows");
            yield return ($"{tensor}: 17 dimensions", With(tensor, "shape", new JsonArray(Enumerable.Range(0, 17).Select(_ => (JsonNode?)1).ToArray())), "dimensions");
            yield return ($"{tensor}: shape not a list", With(tensor, "shape", 4), "shape");
            yield return ($"{tensor}: shape of strings", With(tensor, "shape", new JsonArray("4")), "non-negative");
            yield return ($"{tensor}: entry not an object", Replace(tensor, new JsonArray(1, 2)), "must be an object");
            yield return ($"{tensor}: repeated", Repeat(tensor), "duplicate");
        }

        yield return ("metadata not an object", Replace("__metadata__", new JsonArray()), "__metadata__");
        yield return ("metadata value not a string", Replace("__metadata__", new JsonObject { ["format"] = 1 }), "__metadata__");
        yield return ("header is an array", Seeds.JoinSafeTensors("[]"u8.ToArray(), body), "JSON object");
        yield return ("header is not UTF-8", Seeds.JoinSafeTensors([.. header[..^4], 0xC3, 0x28, (byte)'"', (byte)'}'], body), "JSON");
        yield return ("header has an unpaired surrogate", Seeds.JoinSafeTensors(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(header).Replace("\"format\"", "\"\\ud800\"")), body), "not valid text");
        yield return ("header nested 10,000 deep", Seeds.JoinSafeTensors(Encoding.UTF8.GetBytes(new string('[', 10_000) + new string(']', 10_000)), body), "JSON");

        byte[] With(string tensor, string key, JsonNode? value)
        {
            var copy = root.DeepClone().AsObject();
            copy[tensor]!.AsObject()[key] = value?.DeepClone();
            return Seeds.JoinSafeTensors(Encoding.UTF8.GetBytes(copy.ToJsonString()), body);
        }

        byte[] Without(string tensor, string key)
        {
            var copy = root.DeepClone().AsObject();
            copy[tensor]!.AsObject().Remove(key);
            return Seeds.JoinSafeTensors(Encoding.UTF8.GetBytes(copy.ToJsonString()), body);
        }

        byte[] Replace(string key, JsonNode value)
        {
            var copy = root.DeepClone().AsObject();
            copy[key] = value;
            return Seeds.JoinSafeTensors(Encoding.UTF8.GetBytes(copy.ToJsonString()), body);
        }

        byte[] Repeat(string tensor)
        {
            string text = root.ToJsonString();
            string entry = $"\"{tensor}\":{root[tensor]!.ToJsonString()}";
            return Seeds.JoinSafeTensors(Encoding.UTF8.GetBytes(text.Insert(text.Length - 1, "," + entry)), body);
        }
    }

    [Fact]
    public void Every_attack_is_refused_with_a_named_error_before_any_tensor_is_allocated()
    {
        using var dir = new TempDir();
        string path = dir["model.safetensors"];
        var problems = new List<string>();
        int count = 0;
        foreach (var (name, file, expected) in Cases())
        {
            count++;
            File.WriteAllBytes(path, file);
            ProcessMemory.ResetPeak();
            long before = Environment.WorkingSet;
            try
            {
                using var st = SafeTensorsFile.Open(path);
                foreach (var key in st.Entries.Keys) st.Read(key).Dispose();
                problems.Add($"{name}: accepted");
            }
            catch (ModelFormatException e)
            {
                if (!e.Message.StartsWith(path + ": ", StringComparison.Ordinal) || !e.Message.Contains(expected, StringComparison.OrdinalIgnoreCase))
                    problems.Add($"{name}: message '{e.Message}' lacks the path or '{expected}'");
            }
            catch (Exception e)
            {
                problems.Add($"{name}: {e.GetType().Name}: {e.Message}");
            }
            long peak = ProcessMemory.PeakResidentBytes();
            if (peak > 0 && peak - before > 64L << 20) problems.Add($"{name}: resident memory peaked {(peak - before) >> 20} MiB above its start");
        }
        ReliabilityLog.Record("safetensors attacks", $"{count} hand-aimed header attacks, {count - problems.Count} refused cleanly");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(count > 200, $"only {count} attacks");
    }
}
