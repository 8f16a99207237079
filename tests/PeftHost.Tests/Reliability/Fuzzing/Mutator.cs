using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Tests.Reliability.Fuzzing;

/// <summary>A length or count field of a binary format: where it is and how wide (4 or 8 bytes, little-endian).</summary>
public readonly record struct LengthField(int Offset, int Size);

/// <summary>
/// Seeded mutations of a valid file: bit flips, byte insertions and deletions, truncations,
/// overwrites with boundary values, length-field tampering and chunk duplication. Every choice is
/// drawn from the <see cref="Random"/> given, so a case is reproduced from its seed alone.
/// </summary>
public static class Mutator
{
    /// <summary>Boundary values written over bytes and length fields.</summary>
    public static readonly long[] InterestingValues =
    [
        0, 1, -1, 2, 7, 8, 16, 255, 256, 65535, 65536, int.MaxValue, int.MinValue, (long)int.MaxValue + 1,
        uint.MaxValue, 100_000_000, 100_000_001, 1L << 40, long.MaxValue, long.MinValue, 0x7FFF_FFFF_FFFF_FFF0,
    ];

    /// <summary>One random byte-level mutation (or a few stacked) of <paramref name="data"/>; returns a new array and what was done.</summary>
    public static (byte[] Data, string What) MutateBytes(Random rng, byte[] data, IReadOnlyList<LengthField>? lengthFields = null)
    {
        int kind = rng.Next(lengthFields is { Count: > 0 } ? 8 : 7);
        return kind switch
        {
            0 => BitFlips(rng, data),
            1 => Insert(rng, data),
            2 => Delete(rng, data),
            3 => Truncate(rng, data),
            4 => OverwriteInteresting(rng, data),
            5 => DuplicateChunk(rng, data),
            6 => Stack(rng, data),
            _ => TamperLength(rng, data, lengthFields!),
        };
    }

    /// <summary>Flips 1–8 random bits.</summary>
    public static (byte[], string) BitFlips(Random rng, byte[] data)
    {
        var copy = (byte[])data.Clone();
        if (copy.Length == 0) return (copy, "bit flip of nothing");
        int flips = 1 + rng.Next(8);
        for (int i = 0; i < flips; i++)
        {
            int at = rng.Next(copy.Length);
            copy[at] ^= (byte)(1 << rng.Next(8));
        }
        return (copy, $"{flips} bit flips");
    }

    /// <summary>Inserts 1–64 random (or repeated structural) bytes at a random position.</summary>
    public static (byte[], string) Insert(Random rng, byte[] data)
    {
        int at = rng.Next(data.Length + 1);
        int count = 1 + rng.Next(64);
        var inserted = new byte[count];
        if (rng.Next(2) == 0) rng.NextBytes(inserted);
        else
        {
            byte[] structural = "{}[]\",:\\0-e.9 \n\u0000\u00ff"u8.ToArray();
            for (int i = 0; i < count; i++) inserted[i] = structural[rng.Next(structural.Length)];
        }
        return ([.. data.AsSpan(0, at), .. inserted, .. data.AsSpan(at)], $"insert {count} bytes at {at}");
    }

    /// <summary>Deletes a random range of 1–64 bytes.</summary>
    public static (byte[], string) Delete(Random rng, byte[] data)
    {
        if (data.Length == 0) return (data, "delete from nothing");
        int at = rng.Next(data.Length);
        int count = Math.Min(1 + rng.Next(64), data.Length - at);
        return ([.. data.AsSpan(0, at), .. data.AsSpan(at + count)], $"delete {count} bytes at {at}");
    }

    /// <summary>Cuts the file at a random length (often near the start or the end).</summary>
    public static (byte[], string) Truncate(Random rng, byte[] data)
    {
        int length = rng.Next(4) switch
        {
            0 => rng.Next(Math.Min(data.Length, 32) + 1),
            1 => Math.Max(0, data.Length - 1 - rng.Next(Math.Min(data.Length, 32))),
            _ => rng.Next(data.Length + 1),
        };
        return (data[..length], $"truncate to {length} of {data.Length}");
    }

    /// <summary>Writes a boundary value (1, 2, 4 or 8 bytes, little-endian) at a random position.</summary>
    public static (byte[], string) OverwriteInteresting(Random rng, byte[] data)
    {
        var copy = (byte[])data.Clone();
        int size = new[] { 1, 2, 4, 8 }[rng.Next(4)];
        if (copy.Length < size) return BitFlips(rng, data);
        int at = rng.Next(copy.Length - size + 1);
        long value = InterestingValues[rng.Next(InterestingValues.Length)];
        Write(copy, at, size, value);
        return (copy, $"write {value} ({size} bytes) at {at}");
    }

    /// <summary>Copies a random chunk of the file over or into another place.</summary>
    public static (byte[], string) DuplicateChunk(Random rng, byte[] data)
    {
        if (data.Length < 2) return Insert(rng, data);
        int from = rng.Next(data.Length);
        int count = 1 + rng.Next(Math.Min(256, data.Length - from));
        int to = rng.Next(data.Length + 1);
        var chunk = data.AsSpan(from, count).ToArray();
        return ([.. data.AsSpan(0, to), .. chunk, .. data.AsSpan(to)], $"duplicate {count} bytes from {from} to {to}");
    }

    /// <summary>Two to four of the simple mutations, one after another.</summary>
    public static (byte[], string) Stack(Random rng, byte[] data)
    {
        int n = 2 + rng.Next(3);
        var parts = new List<string>();
        for (int i = 0; i < n; i++)
        {
            (data, string what) = rng.Next(5) switch
            {
                0 => BitFlips(rng, data),
                1 => Insert(rng, data),
                2 => Delete(rng, data),
                3 => OverwriteInteresting(rng, data),
                _ => DuplicateChunk(rng, data),
            };
            parts.Add(what);
        }
        return (data, string.Join(" + ", parts));
    }

    /// <summary>Sets one of the format's length fields to a boundary value or nudges it by ±1..±16.</summary>
    public static (byte[], string) TamperLength(Random rng, byte[] data, IReadOnlyList<LengthField> fields)
    {
        var copy = (byte[])data.Clone();
        var field = fields[rng.Next(fields.Count)];
        if (field.Offset + field.Size > copy.Length) return Truncate(rng, data);
        long current = field.Size == 8 ? BinaryPrimitives.ReadInt64LittleEndian(copy.AsSpan(field.Offset)) : BinaryPrimitives.ReadInt32LittleEndian(copy.AsSpan(field.Offset));
        long value = rng.Next(3) switch
        {
            0 => InterestingValues[rng.Next(InterestingValues.Length)],
            1 => current + (rng.Next(2) == 0 ? -1 : 1) * (1 + rng.Next(16)),
            _ => -current,
        };
        Write(copy, field.Offset, field.Size, value);
        return (copy, $"length field at {field.Offset} ({field.Size} bytes) {current} -> {value}");
    }

    private static void Write(byte[] target, int at, int size, long value)
    {
        switch (size)
        {
            case 1: target[at] = (byte)value; break;
            case 2: BinaryPrimitives.WriteInt16LittleEndian(target.AsSpan(at), (short)value); break;
            case 4: BinaryPrimitives.WriteInt32LittleEndian(target.AsSpan(at), (int)value); break;
            default: BinaryPrimitives.WriteInt64LittleEndian(target.AsSpan(at), value); break;
        }
    }
}

/// <summary>
/// Structural mutations of a JSON document: a random node removed, retyped, replaced by a boundary
/// value, a key renamed, duplicated or added, a value wrapped in an array, a nesting bomb. The
/// result is written out as JSON text (duplicated keys included, which a JSON object model cannot hold).
/// </summary>
public static class JsonMutator
{
    private static readonly Func<Random, JsonNode?>[] Replacements =
    [
        _ => null,
        _ => true,
        _ => false,
        _ => 0,
        _ => -1,
        _ => 1,
        _ => int.MaxValue,
        _ => (long)int.MaxValue + 1,
        _ => int.MinValue,
        _ => (long)int.MinValue - 1,
        _ => long.MaxValue,
        _ => JsonNode.Parse("1e308"),
        _ => JsonNode.Parse("-1e308"),
        _ => JsonNode.Parse("123456789012345678901234567890"),
        _ => 0.5,
        _ => -0.0,
        _ => "",
        _ => "x",
        _ => "../../etc/passwd",
        _ => "\u0000\ud800",
        r => new string('a', 1 + r.Next(20_000)),
        _ => new JsonArray(),
        _ => new JsonObject(),
        _ => new JsonArray(1, 2, 3),
        _ => new JsonArray("a", null, 1),
        _ => new JsonObject { ["content"] = 1, ["id"] = "x" },
        r => Nest(r.Next(2, 200)),
    ];

    /// <summary>Parses <paramref name="json"/> (UTF-8), mutates it 1–3 times, and writes it back as UTF-8 text.</summary>
    public static (byte[] Data, string What) Mutate(Random rng, byte[] json)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException) { return Mutator.MutateBytes(rng, json); }
        if (root is null) return Mutator.MutateBytes(rng, json);
        int n = 1 + rng.Next(3);
        var what = new List<string>();
        DuplicateAt? duplicate = null;
        for (int i = 0; i < n; i++)
        {
            var nodes = Walk(root).ToList();
            var (node, path) = nodes[rng.Next(nodes.Count)];
            switch (rng.Next(9))
            {
                case 0 when node?.Parent is not null:
                    Remove(node);
                    what.Add($"remove {path}");
                    break;
                case 1 or 2 when node?.Parent is not null:
                    var replacement = Replacements[rng.Next(Replacements.Length)](rng);
                    Replace(node, replacement);
                    what.Add($"set {path} = {Short(replacement)}");
                    break;
                case 3 when node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && node.Parent is not null:
                    var number = double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);
                    JsonNode nudged = rng.Next(4) switch
                    {
                        0 => JsonValue.Create(-number),
                        1 => JsonValue.Create(number * 1_000_003),
                        2 => JsonValue.Create(number + (rng.Next(2) == 0 ? 1 : -1)),
                        _ => JsonValue.Create(number.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    };
                    Replace(node, nudged);
                    what.Add($"number {path} {number} -> {nudged.ToJsonString()}");
                    break;
                case 4 when node is JsonObject o && o.Count > 0:
                    var key = o.ElementAt(rng.Next(o.Count)).Key;
                    var value = o[key];
                    o.Remove(key);
                    string renamed = rng.Next(3) switch { 0 => key.ToUpperInvariant(), 1 => key + "_", _ => key.Length > 1 ? key[1..] : "" };
                    if (!o.ContainsKey(renamed)) o[renamed] = value;
                    what.Add($"rename {path}.{key} -> {renamed}");
                    break;
                case 5 when node is JsonObject o:
                    o[$"unknown_{rng.Next(1000)}"] = Replacements[rng.Next(Replacements.Length)](rng);
                    what.Add($"add key to {path}");
                    break;
                case 6 when node?.Parent is not null:
                    var wrapped = new JsonArray();
                    Replace(node, wrapped);
                    wrapped.Add(node);
                    what.Add($"wrap {path} in an array");
                    break;
                case 7 when node is JsonObject o && o.Count > 0:
                    duplicate = new DuplicateAt(o, o.ElementAt(rng.Next(o.Count)).Key, Replacements[rng.Next(Replacements.Length)](rng));
                    what.Add($"duplicate key {path}.{duplicate.Key}");
                    break;
                case 8 when node is JsonArray a && a.Count > 0:
                    if (rng.Next(2) == 0) { a.Insert(rng.Next(a.Count + 1), a[rng.Next(a.Count)]?.DeepClone()); what.Add($"repeat an element of {path}"); }
                    else { a.RemoveAt(rng.Next(a.Count)); what.Add($"drop an element of {path}"); }
                    break;
                default:
                    what.Add("no-op");
                    break;
            }
        }
        return (Write(root, duplicate), string.Join("; ", what));
    }

    private sealed record DuplicateAt(JsonObject Object, string Key, JsonNode? Value);

    private static JsonNode Nest(int depth)
    {
        JsonNode node = new JsonArray();
        for (int i = 0; i < depth; i++) node = new JsonArray(node);
        return node;
    }

    private static string Short(JsonNode? n)
    {
        string s = n?.ToJsonString() ?? "null";
        return s.Length > 40 ? s[..40] + "…" : s;
    }

    private static IEnumerable<(JsonNode? Node, string Path)> Walk(JsonNode? node, string path = "$")
    {
        yield return (node, path);
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o.ToList())
                    foreach (var x in Walk(v, $"{path}.{k}")) yield return x;
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                    foreach (var x in Walk(a[i], $"{path}[{i}]")) yield return x;
                break;
        }
    }

    private static void Remove(JsonNode node)
    {
        switch (node.Parent)
        {
            case JsonObject o: o.Remove(o.First(kv => ReferenceEquals(kv.Value, node)).Key); break;
            case JsonArray a: a.Remove(node); break;
        }
    }

    private static void Replace(JsonNode node, JsonNode? replacement)
    {
        switch (node.Parent)
        {
            case JsonObject o:
                string key = o.First(kv => ReferenceEquals(kv.Value, node)).Key;
                o[key] = null; // detach the old node first
                o[key] = replacement;
                break;
            case JsonArray a:
                int index = a.IndexOf(node);
                a[index] = null;
                a[index] = replacement;
                break;
        }
    }

    /// <summary>Writes <paramref name="root"/> as text; <paramref name="duplicate"/> adds a second property of the same name.</summary>
    private static byte[] Write(JsonNode? root, DuplicateAt? duplicate)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Indented = true, MaxDepth = 100_000 }))
            WriteNode(writer, root, duplicate);
        return buffer.ToArray();
    }

    private static void WriteNode(Utf8JsonWriter writer, JsonNode? node, DuplicateAt? duplicate)
    {
        switch (node)
        {
            case null: writer.WriteNullValue(); break;
            case JsonObject o:
                writer.WriteStartObject();
                foreach (var (k, v) in o)
                {
                    writer.WritePropertyName(k);
                    WriteNode(writer, v, duplicate);
                }
                if (duplicate is not null && ReferenceEquals(duplicate.Object, o))
                {
                    writer.WritePropertyName(duplicate.Key);
                    WriteNode(writer, duplicate.Value, null);
                }
                writer.WriteEndObject();
                break;
            case JsonArray a:
                writer.WriteStartArray();
                foreach (var v in a) WriteNode(writer, v, duplicate);
                writer.WriteEndArray();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }

    /// <summary>Text mutations aimed at JSON: a structural character inserted, removed or swapped, a string left open.</summary>
    public static (byte[] Data, string What) MutateText(Random rng, byte[] json)
    {
        string text = Encoding.UTF8.GetString(json);
        if (text.Length == 0) return (json, "empty");
        string[] tokens = ["{", "}", "[", "]", ",", ":", "\"", "\\", "null", "-", "1e999", "\\u0000", "\\ud800", "/*", "NaN", "Infinity"];
        int at = rng.Next(text.Length);
        string result = rng.Next(3) switch
        {
            0 => text.Insert(at, tokens[rng.Next(tokens.Length)]),
            1 => text.Remove(at, 1),
            _ => text[..at] + tokens[rng.Next(tokens.Length)] + text[Math.Min(text.Length, at + 1 + rng.Next(4))..],
        };
        return (Encoding.UTF8.GetBytes(result), $"text edit at {at}");
    }
}
