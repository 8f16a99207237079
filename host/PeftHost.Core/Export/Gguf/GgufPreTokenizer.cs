using System.Security.Cryptography;
using System.Text;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Export.Gguf;

/// <summary>
/// The <c>tokenizer.ggml.pre</c> name of a byte-level BPE: which of llama.cpp's built-in pre-tokenizers (its own
/// regular-expression splits, chosen by name at load) reproduces it. Found the way llama.cpp's
/// <c>convert_hf_to_gguf.py</c> finds it (<c>get_vocab_base_pre</c>): the tokenizer encodes a fixed probe text full of
/// whitespace runs, digits, emoji, scripts and contractions, and the SHA-256 of the ids (written as Python prints a
/// list) names the pre-tokenizer. Identifying by behaviour rather than by the regular expression's text means that two
/// files spelling the same split differently get the same name, and a split llama.cpp does not have is refused instead
/// of being tokenized differently at run time.
/// </summary>
internal static class GgufPreTokenizer
{
    /// <summary>llama.cpp's probe text (<c>chktxt</c> in convert_hf_to_gguf_update.py), character for character.</summary>
    private const string ProbeText =
        "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 " +
        "33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български " +
        "''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL";

    /// <summary>
    /// Probe hashes from llama.cpp's table, for the tokenizers of the model families PeftHost exports (LLaMA, Mistral,
    /// Qwen), each with the pre-tokenizer name llama.cpp gives it. Names llama.cpp does not know would make it refuse the
    /// file at load, so only names from its own table appear here.
    /// </summary>
    private static readonly Dictionary<string, string> NameOfHash = new(StringComparer.Ordinal)
    {
        ["0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5"] = "llama-bpe",        // Llama 3, 3.1, 3.2
        ["c136ed14d01c2745d4f60a9596ae66800e2b61fa45643e72436041855ad4089d"] = "smaug-bpe",        // Smaug-Llama-3
        ["e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea"] = "qwen2",            // Qwen 1.5, 2, 2.5, 3
        ["b3f499bb4255f8ca19fccd664443283318f2fd2414d5e0b040fbdd0cc195d6c5"] = "deepseek-r1-qwen", // DeepSeek-R1-Distill-Qwen
        ["63b97e4253352e6f357cc59ea5b583e3a680eaeaf2632188c2b952de2588485e"] = "tekken",           // Mistral Nemo
        ["855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249"] = "smollm",           // SmolLM (LLaMA)
        ["3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454"] = "gpt-2",            // GPT-2's own split
    };

    /// <summary>The pre-tokenizer name of <paramref name="tokenizer"/>, loaded from <paramref name="tokenizerFile"/>.</summary>
    /// <remarks>
    /// llama.cpp's hashes are of the ids Hugging Face's <c>encode</c> gave for the reference model, BOS included where that
    /// model's tokenizer added one. Whether a BOS is added is no part of the split (GGUF carries it as
    /// <c>add_bos_token</c>), and a re-saved tokenizer may differ from the reference only there, so the probe's ids are
    /// hashed as the tokenizer encodes them, then without BOS, then with it. "llama-bpe" and "smaug-bpe" split alike and
    /// differ in <c>ignore_merges</c>, which the probe does not exercise: the file's flag decides between them.
    /// </remarks>
    /// <exception cref="TokenizerFormatException">llama.cpp has no pre-tokenizer that splits text as this tokenizer does.</exception>
    public static string NameOf(TextTokenizer tokenizer, string tokenizerFile, HfTokenizerJson json)
    {
        var ids = tokenizer.Encode(ProbeText, addBos: false);
        List<IReadOnlyList<int>> candidates = [tokenizer.Encode(ProbeText), ids];
        if (tokenizer.BosTokenId is int bos)
            candidates.Add([bos, .. ids]);
        var name = candidates.Select(Hash).Select(hash => NameOfHash.GetValueOrDefault(hash)).FirstOrDefault(found => found is not null)
            ?? throw new TokenizerFormatException(tokenizerFile, $"its byte-level pre-tokenizer (split pattern {json.SplitPattern}) is not " +
                $"one llama.cpp knows (supported: {string.Join(", ", NameOfHash.Values.Distinct())}); llama.cpp would tokenize text differently");
        return name is "llama-bpe" or "smaug-bpe" ? (json.IgnoreMerges ? "llama-bpe" : "smaug-bpe") : name;
    }

    /// <summary>The SHA-256 (lowercase hex) of <paramref name="ids"/> written as Python's <c>str(list)</c>.</summary>
    private static string Hash(IReadOnlyList<int> ids) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("[" + string.Join(", ", ids) + "]")));
}
