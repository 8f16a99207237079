using System.Text;

namespace PeftHost.Core.Tokenization;

/// <summary>Bytes gathered while decoding tokens, appended to the text as UTF-8 once a run of them ends.</summary>
internal static class PendingBytes
{
    /// <summary>Appends <paramref name="bytes"/> decoded as UTF-8 (an invalid sequence as U+FFFD, as Hugging Face) and clears them.</summary>
    public static void Flush(StringBuilder text, List<byte> bytes)
    {
        if (bytes.Count == 0)
            return;
        text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
        bytes.Clear();
    }
}
