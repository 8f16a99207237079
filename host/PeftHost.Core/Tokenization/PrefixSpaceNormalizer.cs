using Microsoft.ML.Tokenizers;

namespace PeftHost.Core.Tokenization;

/// <summary>Puts a space in front of text that does not start with one (byte-level <c>add_prefix_space</c>).</summary>
internal sealed class PrefixSpaceNormalizer : Normalizer
{
    /// <inheritdoc/>
    public override string Normalize(string original)
        => original.StartsWith(' ') ? original : " " + original;

    /// <inheritdoc/>
    public override string Normalize(ReadOnlySpan<char> original)
        => original.StartsWith(" ") ? original.ToString() : string.Concat(" ", original);
}
