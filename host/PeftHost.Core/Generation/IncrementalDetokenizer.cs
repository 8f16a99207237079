using System.Text;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Generation;

/// <summary>
/// Turns generated token ids into text as they arrive, so that everything emitted — the prompt's
/// text, then each delta — adds up to exactly <c>decode(prompt + generated)</c>. A token's text
/// depends on its neighbours (SentencePiece's "▁" becomes a space only after other text; a
/// byte-level BPE character may span several tokens), so each step decodes the whole sequence and
/// emits the new suffix, holding it back while it ends in an incomplete character (U+FFFD), as
/// Hugging Face's <c>TextStreamer</c> does.
/// </summary>
public sealed class IncrementalDetokenizer
{
    private readonly TextTokenizer _tokenizer;
    private readonly List<int> _ids;
    private readonly StringBuilder _emitted = new();

    /// <summary>Starts after <paramref name="prompt"/> (the ids the model was given, BOS included).</summary>
    public IncrementalDetokenizer(TextTokenizer tokenizer, IReadOnlyList<int> prompt)
    {
        _tokenizer = tokenizer;
        _ids = [.. prompt];
        PromptText = tokenizer.Decode(_ids);
        _emitted.Append(PromptText);
    }

    /// <summary>The prompt as the tokenizer decodes it: the start of the full text.</summary>
    public string PromptText { get; }

    /// <summary>Adds a generated token; returns the text it completes ("" while a character is still incomplete).</summary>
    public string Add(int token)
    {
        _ids.Add(token);
        string whole = _tokenizer.Decode(_ids);
        return whole.EndsWith('\uFFFD') ? "" : EmitBeyondEmitted(whole);
    }

    /// <summary>The text still held back (an incomplete character at the end), once generation is over.</summary>
    public string Flush() => EmitBeyondEmitted(_tokenizer.Decode(_ids));

    /// <summary>
    /// The text of <paramref name="generated"/> as it reads after <paramref name="prompt"/>: the
    /// suffix of <c>decode(prompt + generated)</c> beyond <c>decode(prompt)</c> (decoding the new
    /// tokens alone would drop SentencePiece's leading space).
    /// </summary>
    public static string Continuation(TextTokenizer tokenizer, IReadOnlyList<int> prompt, IEnumerable<int> generated)
    {
        string head = tokenizer.Decode(prompt);
        string whole = tokenizer.Decode(prompt.Concat(generated));
        return whole.StartsWith(head, StringComparison.Ordinal) ? whole[head.Length..] : tokenizer.Decode(generated);
    }

    private string EmitBeyondEmitted(string whole)
    {
        // Decoding is prefix-stable for the tokenizers PeftHost reads; text already shown cannot be
        // taken back, so a decode that rewrites it emits nothing until it extends the shown text again.
        if (whole.Length <= _emitted.Length || !whole.AsSpan().StartsWith(_emitted.ToString(), StringComparison.Ordinal)) return "";
        string delta = whole[_emitted.Length..];
        _emitted.Append(delta);
        return delta;
    }
}
