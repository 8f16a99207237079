using System.Text;
using PeftHost.Core.Checkpoints;
using PeftHost.Core.Import;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Reliability.Fuzzing;

/// <summary>Every reader the fuzz tests attack, with its seed, its mutations and how it is read.</summary>
public static class FuzzTargets
{
    private const string Sentence = "Once upon a time, a little cat sat on the mat. 12 ü ☃";

    /// <summary>Picks one mutation from <paramref name="choices"/> by weight.</summary>
    internal static Func<Random, byte[], (byte[], string)> Mix(params (int Weight, Func<Random, byte[], (byte[], string)> Mutate)[] choices)
    {
        int total = choices.Sum(c => c.Weight);
        return (rng, seed) =>
        {
            int pick = rng.Next(total);
            foreach (var (weight, mutate) in choices)
            {
                if (pick < weight) return mutate(rng, seed);
                pick -= weight;
            }
            throw new InvalidOperationException();
        };
    }

    private static Func<Random, byte[], (byte[], string)> Bytes(IReadOnlyList<LengthField>? fields = null) => (rng, data) => Mutator.MutateBytes(rng, data, fields);

    private static readonly Func<Random, byte[], (byte[], string)> Json = JsonMutator.Mutate;
    private static readonly Func<Random, byte[], (byte[], string)> JsonText = JsonMutator.MutateText;

    /// <summary>Safetensors: <see cref="SafeTensorsFile.Open"/> then every tensor read.</summary>
    public static FuzzTarget SafeTensors()
    {
        var seed = Seeds.SafeTensors();
        return new FuzzTarget("safetensors", "model.safetensors", seed,
            Mix((3, Bytes([new LengthField(0, 8)])), (4, HeaderJson), (2, Offsets), (1, HeaderText)),
            (_, file) =>
            {
                using var st = SafeTensorsFile.Open(file);
                foreach (var key in st.Entries.Keys)
                    st.Read(key).Dispose();
            },
            typeof(ModelFormatException));

        // The header's JSON mutated structurally, rewrapped with a correct (or, one time in four, stale) length.
        static (byte[], string) HeaderJson(Random rng, byte[] file)
        {
            var (header, data) = Seeds.SplitSafeTensors(file)!.Value;
            var (mutated, what) = JsonMutator.Mutate(rng, header);
            var joined = Seeds.JoinSafeTensors(mutated, data);
            if (rng.Next(4) == 0) BitConverter.GetBytes((ulong)header.Length).CopyTo(joined, 0);
            return (joined, "header: " + what);
        }

        static (byte[], string) HeaderText(Random rng, byte[] file)
        {
            var (header, data) = Seeds.SplitSafeTensors(file)!.Value;
            var (mutated, what) = JsonMutator.MutateText(rng, header);
            return (Seeds.JoinSafeTensors(mutated, data), "header text: " + what);
        }

        // data_offsets aimed at: out of range, negative, reversed, overlapping another tensor, huge.
        static (byte[], string) Offsets(Random rng, byte[] file)
        {
            var (header, data) = Seeds.SplitSafeTensors(file)!.Value;
            var root = System.Text.Json.Nodes.JsonNode.Parse(header)!.AsObject();
            var names = root.Where(kv => kv.Key != "__metadata__").Select(kv => kv.Key).ToList();
            string name = names[rng.Next(names.Count)];
            var offsets = root[name]!["data_offsets"]!.AsArray();
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            string other = names[rng.Next(names.Count)];
            var otherOffsets = root[other]!["data_offsets"]!.AsArray();
            (long b, long e) = rng.Next(7) switch
            {
                0 => (begin, data.Length + 1L + rng.Next(100)),
                1 => (-1 - rng.Next(100), end),
                2 => (end, begin),
                3 => (otherOffsets[0]!.GetValue<long>(), otherOffsets[0]!.GetValue<long>() + (end - begin)),
                4 => (begin + 1, end + 1),
                5 => (long.MaxValue - 8, long.MaxValue),
                _ => (begin, begin + (long)Mutator.InterestingValues[rng.Next(Mutator.InterestingValues.Length)]),
            };
            root[name]!["data_offsets"] = new System.Text.Json.Nodes.JsonArray(b, e);
            return (Seeds.JoinSafeTensors(Encoding.UTF8.GetBytes(root.ToJsonString()), data), $"{name}.data_offsets [{begin}, {end}] -> [{b}, {e}]");
        }
    }

    /// <summary>config.json: the whole model folder loaded with <see cref="ModelLoader.Load"/> (tiny weights beside it).</summary>
    public static FuzzTarget ModelConfigJson() => new(
        "config.json", ModelLoader.ConfigFileName, Encoding.UTF8.GetBytes(Seeds.TinyConfigJson),
        Mix((6, Json), (2, JsonText), (2, Bytes())),
        (folder, _) => ModelLoader.Load(folder).Dispose(),
        typeof(ModelFormatException))
    {
        Setup = folder => Seeds.WriteTinyModel(folder),
        ExpectedInMessage = (folder, _) => folder,
    };

    /// <summary>adapter_config.json: the adapter folder loaded onto the tiny model with <see cref="PeftModel.LoadAdapter"/>.</summary>
    public static FuzzTarget AdapterConfigJson()
    {
        string staging = Path.Combine(Path.GetTempPath(), "pefthost-tests", "adapter-seed-" + Guid.NewGuid().ToString("N"));
        Seeds.WriteTinyLoraAdapter(staging);
        var seed = File.ReadAllBytes(Path.Combine(staging, AdapterFiles.ConfigFileName));
        var weights = File.ReadAllBytes(Path.Combine(staging, AdapterFiles.WeightsFileName));
        Directory.Delete(staging, recursive: true);
        var model = ModelLoader.CreateRandom(ModelConfig.FromJson(System.Text.Json.Nodes.JsonNode.Parse(Seeds.TinyConfigJson)!.AsObject()), seed: 3);
        var catalog = new StaticMethodCatalog(new LoraMethod());
        return new FuzzTarget("adapter_config.json", AdapterFiles.ConfigFileName, seed,
            Mix((6, Json), (2, JsonText), (2, Bytes())),
            (folder, _) =>
            {
                var peft = new PeftModel(model, catalog);
                peft.LoadAdapter(folder);
                peft.DeleteAdapter("default");
            },
            typeof(ConfigException), typeof(ModelFormatException))
        {
            Setup = folder => File.WriteAllBytes(Path.Combine(folder, AdapterFiles.WeightsFileName), weights),
        };
    }

    /// <summary>adapter_model.safetensors: an adapter folder whose weights are damaged.</summary>
    public static FuzzTarget AdapterWeights()
    {
        string staging = Path.Combine(Path.GetTempPath(), "pefthost-tests", "adapter-seed-" + Guid.NewGuid().ToString("N"));
        Seeds.WriteTinyLoraAdapter(staging);
        var config = File.ReadAllBytes(Path.Combine(staging, AdapterFiles.ConfigFileName));
        var seed = File.ReadAllBytes(Path.Combine(staging, AdapterFiles.WeightsFileName));
        Directory.Delete(staging, recursive: true);
        var model = ModelLoader.CreateRandom(ModelConfig.FromJson(System.Text.Json.Nodes.JsonNode.Parse(Seeds.TinyConfigJson)!.AsObject()), seed: 3);
        var catalog = new StaticMethodCatalog(new LoraMethod());
        return new FuzzTarget("adapter_model.safetensors", AdapterFiles.WeightsFileName, seed,
            Mix((4, Bytes([new LengthField(0, 8)])), (6, (rng, file) =>
            {
                var (header, data) = Seeds.SplitSafeTensors(file)!.Value;
                var (mutated, what) = JsonMutator.Mutate(rng, header);
                return (Seeds.JoinSafeTensors(mutated, data), "header: " + what);
            })),
            (folder, _) =>
            {
                var peft = new PeftModel(model, catalog);
                peft.LoadAdapter(folder);
                peft.DeleteAdapter("default");
            },
            typeof(ConfigException), typeof(ModelFormatException))
        {
            Setup = folder => File.WriteAllBytes(Path.Combine(folder, AdapterFiles.ConfigFileName), config),
            ExpectedInMessage = (folder, _) => folder,
        };
    }

    /// <summary>Loads the tokenizer of <paramref name="folder"/> and round-trips a sentence through it.</summary>
    private static void LoadAndUse(string folder)
    {
        var tokenizer = TokenizerLoader.Load(folder);
        var ids = tokenizer.Encode(Sentence);
        tokenizer.Decode(ids);
    }

    /// <summary>tokenizer.model (SentencePiece protobuf): <see cref="TokenizerLoader.Load"/>, then encode and decode.</summary>
    public static FuzzTarget TokenizerModel()
    {
        var seed = Seeds.TokenizerModel();
        var lengths = Seeds.ProtobufLengths(seed);
        return new FuzzTarget("tokenizer.model", "tokenizer.model", seed,
            Mix((7, Bytes()), (3, (rng, data) =>
            {
                // Re-encode one varint length as a boundary value (the message may grow or shrink).
                var (offset, size) = lengths[rng.Next(lengths.Count)];
                ulong value = (ulong)Mutator.InterestingValues[rng.Next(Mutator.InterestingValues.Length)];
                var varint = Seeds.Varint(value);
                return ([.. data.AsSpan(0, offset), .. varint, .. data.AsSpan(offset + size)], $"protobuf length at {offset} -> {value}");
            })),
            (folder, _) => LoadAndUse(folder),
            typeof(TokenizerFormatException))
        {
            ExpectedInMessage = (folder, _) => folder,
        };
    }

    /// <summary>tokenizer_config.json beside a good tokenizer.model.</summary>
    public static FuzzTarget TokenizerConfigJson() => new(
        "tokenizer_config.json", "tokenizer_config.json", Seeds.TokenizerConfig(),
        Mix((6, Json), (2, JsonText), (2, Bytes())),
        (folder, _) => LoadAndUse(folder),
        typeof(TokenizerFormatException))
    {
        Setup = folder => File.WriteAllBytes(Path.Combine(folder, "tokenizer.model"), Seeds.TokenizerModel()),
    };

    /// <summary>tokenizer.json, SentencePiece style (LLaMA-2): converted in memory and loaded.</summary>
    public static FuzzTarget SentencePieceTokenizerJson() => new(
        "tokenizer.json (SentencePiece BPE)", "tokenizer.json", Seeds.SentencePieceTokenizerJson(),
        Mix((7, Json), (1, JsonText), (2, Bytes())),
        (folder, _) => LoadAndUse(folder),
        typeof(TokenizerFormatException))
    {
        ExpectedInMessage = (folder, _) => folder,
    };

    /// <summary>tokenizer.json, byte-level BPE (GPT-2 style).</summary>
    public static FuzzTarget ByteLevelTokenizerJson() => new(
        "tokenizer.json (byte-level BPE)", "tokenizer.json", Seeds.ByteLevelTokenizerJson(),
        Mix((7, Json), (1, JsonText), (2, Bytes())),
        (folder, _) => LoadAndUse(folder),
        typeof(TokenizerFormatException))
    {
        ExpectedInMessage = (folder, _) => folder,
    };

    /// <summary>A llama2.c checkpoint: <see cref="Llama2cCheckpoint.Read"/> and the config it implies.</summary>
    public static FuzzTarget Llama2cModel()
    {
        var header = Enumerable.Range(0, 7).Select(i => new LengthField(i * 4, 4)).ToArray();
        return new FuzzTarget("llama2.c model", "model.bin", Seeds.Llama2cModel(),
            Mix((5, Bytes(header)), (5, (rng, data) => Mutator.TamperLength(rng, data, header))),
            (_, file) =>
            {
                var (h, state) = Llama2cCheckpoint.Read(file);
                foreach (var t in state.Values) t.Dispose();
                h.ToModelConfig();
            },
            typeof(ModelFormatException));
    }

    /// <summary>A llama2.c tokenizer (tok512.bin): converted to a tokenizer folder, loaded and used.</summary>
    public static FuzzTarget Llama2cTokenizer()
    {
        var seed = Seeds.Llama2cTokenizer();
        var lengths = Seeds.Llama2cTokenizerLengths(seed);
        return new FuzzTarget("llama2.c tokenizer", "tok512.bin", seed,
            Mix((6, Bytes(lengths)), (4, (rng, data) => Mutator.TamperLength(rng, data, lengths))),
            (folder, file) =>
            {
                string output = Path.Combine(folder, "converted");
                Llama2cTokenizerConverter.Convert(file, 512, output);
                LoadAndUse(output);
            },
            typeof(TokenizerFormatException));
    }
}
