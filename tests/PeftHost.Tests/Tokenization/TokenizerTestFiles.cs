using System.Text;
using System.Text.Json;

namespace PeftHost.Tests.Tokenization;

/// <summary>Paths of the tokenizer fixtures copied next to the test assembly.</summary>
internal static class TokenizerTestFiles
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenizers");
    public static string TokBin => Path.Combine(Root, "llama2c", "tok512.bin");
    public const int TokBinVocabSize = 512;
    public static string Gpt2Folder => Path.Combine(Root, "gpt2");
    public static string Gpt2Vocab => Path.Combine(Gpt2Folder, "vocab.json");
    public static string Gpt2Merges => Path.Combine(Gpt2Folder, "merges.txt");

    /// <summary>Sentences that exercise words, digits, punctuation, whitespace runs and non-ASCII text.</summary>
    public static readonly string[] Sentences =
    [
        "Once upon a time, there was a little girl named Lily.",
        "She loved to play outside in the park.",
        "Hello world",
        "  leading spaces, double  spaces and a trailing one ",
        "Tabs\tand\nnew lines\n\nand 12345 numbers, 3.14!",
        "naïve café ☃",
        "Ünïcödé — “quotes” and emoji 🙂 and 日本語",
        "don't you'll we've I'm it's",
        "a",
    ];

    /// <summary>The GPT-2 vocabulary, token → id.</summary>
    public static Dictionary<string, int> ReadGpt2Vocabulary()
        => JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Gpt2Vocab))!;

    /// <summary>The GPT-2 merges, "left right", highest priority first.</summary>
    public static List<string> ReadGpt2Merges()
        => File.ReadLines(Gpt2Merges).Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal)).ToList();

    /// <summary>GPT-2's byte → printable character table, inverted: character → byte.</summary>
    public static Dictionary<char, byte> Gpt2CharToByte()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1)
            .Concat(Enumerable.Range('¡', '¬' - '¡' + 1))
            .Concat(Enumerable.Range('®', 'ÿ' - '®' + 1))
            .ToHashSet();
        var map = new Dictionary<char, byte>();
        var shifted = 0;
        for (var b = 0; b < 256; b++)
            map[printable.Contains(b) ? (char)b : (char)(256 + shifted++)] = (byte)b;
        return map;
    }

    /// <summary>The GPT-2 vocabulary as a tiktoken rank file (special tokens left out, as tiktoken does).</summary>
    public static string Gpt2AsTiktoken()
    {
        var charToByte = Gpt2CharToByte();
        var text = new StringBuilder();
        foreach (var (token, id) in ReadGpt2Vocabulary().Where(p => p.Key != "<|endoftext|>").OrderBy(p => p.Value))
            text.Append(Convert.ToBase64String(token.Select(c => charToByte[c]).ToArray())).Append(' ').Append(id).Append('\n');
        return text.ToString();
    }
}

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pefthost-tok-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string text)
    {
        System.IO.File.WriteAllText(File(name), text);
        return File(name);
    }

    public string Write(string name, byte[] bytes)
    {
        System.IO.File.WriteAllBytes(File(name), bytes);
        return File(name);
    }

    public void Dispose()
    {
        if (Directory.Exists(Path))
            Directory.Delete(Path, recursive: true);
    }
}
