namespace PeftHost.Core.Tokenization;

/// <summary>The regular expressions byte-level tokenizers split text with before merging.</summary>
internal static class PreTokenizerPatterns
{
    /// <summary>GPT-2's split (also r50k/p50k and Hugging Face's <c>ByteLevel</c> with <c>use_regex</c>).</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>The cl100k split, which LLaMA-3 uses as well.</summary>
    public const string Cl100k = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
}
