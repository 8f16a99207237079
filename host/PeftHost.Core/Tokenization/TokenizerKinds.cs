namespace PeftHost.Core.Tokenization;

/// <summary>The values of <see cref="TextTokenizer.Kind"/>.</summary>
public static class TokenizerKinds
{
    /// <summary>A SentencePiece BPE model with byte fallback (LLaMA, LLaMA-2, Mistral).</summary>
    public const string SentencePiece = "sentencepiece";

    /// <summary>A byte-level BPE (GPT-2, LLaMA-3 and Qwen2 through <c>tokenizer.json</c>).</summary>
    public const string Bpe = "bpe";

    /// <summary>A tiktoken rank file (OpenAI encodings, Meta's LLaMA-3 <c>tokenizer.model</c>).</summary>
    public const string Tiktoken = "tiktoken";
}
