using System.Text;
using PeftHost.Core.Data;

namespace PeftHost.Tests.Data;

/// <summary>A trivial tokenizer for tests: PAD 0, BOS 1, EOS 2, then one id per UTF-8 byte (3 + byte).</summary>
public sealed class ByteTokenizer : ITokenEncoder
{
    public const int Pad = 0, Bos = 1, Eos = 2, Offset = 3;

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        var ids = new List<int>();
        if (addBos) ids.Add(Bos);
        ids.AddRange(Encoding.UTF8.GetBytes(text).Select(b => b + Offset));
        return ids;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        Encoding.UTF8.GetString(ids.Where(i => i >= Offset).Select(i => (byte)(i - Offset)).ToArray());

    public int? BosTokenId => Bos;
    public IReadOnlyList<int> EosTokenIds { get; } = [Eos];
    public int? PadTokenId => Pad;
    public int VocabSize => 256 + Offset;
}
