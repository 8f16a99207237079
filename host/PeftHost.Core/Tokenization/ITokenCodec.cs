namespace PeftHost.Core.Tokenization;

/// <summary>
/// The part of a tokenizer that turns text into ids and ids back into text. Special-token policy
/// (BOS, which ids decoding skips, clean-up of spaces) is <see cref="TextTokenizer"/>'s.
/// </summary>
internal interface ITokenCodec
{
    /// <summary>The ids of <paramref name="text"/>, added tokens matched whole, no BOS or EOS.</summary>
    IReadOnlyList<int> Encode(string text);

    /// <summary>The text of <paramref name="ids"/>, every id decoded (added and special tokens as their text).</summary>
    string Decode(IEnumerable<int> ids);
}
