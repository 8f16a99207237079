using System.Text;
using Microsoft.ML.Tokenizers;

namespace PeftHost.Core.Tokenization;

/// <summary>
/// Unicode NFC, as a <c>tokenizer.json</c> "NFC" normalizer asks. With invariant globalization
/// .NET leaves non-ASCII text as it is, which is exact for text already in NFC (nearly all text).
/// </summary>
internal sealed class NfcNormalizer : Normalizer
{
    /// <inheritdoc/>
    public override string Normalize(string original) => original.Normalize(NormalizationForm.FormC);

    /// <inheritdoc/>
    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());
}
