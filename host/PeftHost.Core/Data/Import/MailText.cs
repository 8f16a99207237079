using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace PeftHost.Core.Data;

/// <summary>
/// The human-readable parts of a raw RFC 822 e-mail: the Subject (RFC 2047 encoded words
/// decoded) and the body text — for multipart mail the first text/plain part (else text/html),
/// with quoted-printable or base64 undone and HTML reduced to its text. All other headers are dropped.
/// </summary>
public static partial class MailText
{
    /// <summary>The subject and the body text of <paramref name="raw"/>.</summary>
    public static (string Subject, string Body) Extract(string raw)
    {
        var (headers, body) = SplitHeaders(raw.Replace("\r\n", "\n"));
        string subject = DecodeEncodedWords(headers.GetValueOrDefault("subject") ?? "").Trim();
        return (subject, Tidy(BodyText(headers, body, depth: 0)));
    }

    /// <summary>Cuts <paramref name="text"/> to at most <paramref name="maxChars"/> characters, at a whitespace when one is near the end.</summary>
    public static string Truncate(string text, int maxChars)
    {
        if (text.Length <= maxChars) return text;
        int cut = maxChars;
        if (char.IsWhiteSpace(text[cut])) return text[..cut].TrimEnd();
        if (char.IsHighSurrogate(text[cut - 1])) cut--;
        int space = text.LastIndexOfAny([' ', '\n'], cut - 1, Math.Min(cut, 40));
        return text[..(space > 0 ? space : cut)].TrimEnd();
    }

    private static (Dictionary<string, string> Headers, string Body) SplitHeaders(string text)
    {
        int end = text.IndexOf("\n\n", StringComparison.Ordinal);
        string head = end < 0 ? text : text[..end];
        string body = end < 0 ? "" : text[(end + 2)..];
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? name = null;
        var value = new StringBuilder();
        void Flush()
        {
            if (name is not null) headers.TryAdd(name, value.ToString());
            name = null;
            value.Clear();
        }
        foreach (var line in head.Split('\n'))
        {
            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t'))
            {
                if (name is not null) value.Append(' ').Append(line.Trim());
                continue;
            }
            Flush();
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            name = line[..colon].Trim();
            value.Append(line[(colon + 1)..].Trim());
        }
        Flush();
        return (headers, body);
    }

    private static string BodyText(Dictionary<string, string> headers, string body, int depth)
    {
        string contentType = headers.GetValueOrDefault("content-type") ?? "text/plain";
        string mediaType = contentType.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType.StartsWith("multipart/", StringComparison.Ordinal) && depth < 4 && Parameter(contentType, "boundary") is { } boundary)
        {
            var parts = SplitParts(body, boundary).Select(SplitHeaders).ToList();
            // Plain text first, then nested multiparts, then HTML, then any text: the first that has words wins.
            string[] preference = ["text/plain", "multipart/", "text/html", "text/"];
            foreach (var type in preference)
                foreach (var (partHeaders, partBody) in parts)
                {
                    string partType = (partHeaders.GetValueOrDefault("content-type") ?? "text/plain").Split(';')[0].Trim();
                    if (!partType.StartsWith(type, StringComparison.OrdinalIgnoreCase)) continue;
                    string partText = BodyText(partHeaders, partBody, depth + 1);
                    if (!string.IsNullOrWhiteSpace(partText)) return partText;
                }
            return "";
        }
        if (!mediaType.StartsWith("text/", StringComparison.Ordinal) && mediaType.Length > 0 && !mediaType.StartsWith("multipart/", StringComparison.Ordinal))
            return "";
        string text = Decode(body, headers.GetValueOrDefault("content-transfer-encoding"), Parameter(contentType, "charset"));
        return mediaType == "text/html" ? HtmlToText(text) : text;
    }

    private static IEnumerable<string> SplitParts(string body, string boundary)
    {
        string delimiter = "--" + boundary;
        var lines = body.Split('\n');
        StringBuilder? current = null;
        foreach (var line in lines)
        {
            string trimmed = line.TrimEnd();
            if (trimmed == delimiter || trimmed == delimiter + "--")
            {
                if (current is not null) yield return current.ToString();
                current = trimmed.EndsWith("--", StringComparison.Ordinal) && trimmed == delimiter + "--" ? null : new StringBuilder();
                continue;
            }
            current?.Append(line).Append('\n');
        }
        if (current is not null) yield return current.ToString();
    }

    private static string Decode(string body, string? transferEncoding, string? charset)
    {
        var encoding = CharsetEncoding(charset);
        switch (transferEncoding?.Trim().ToLowerInvariant())
        {
            case "quoted-printable":
                return encoding.GetString(QuotedPrintable(body));
            case "base64":
                try { return encoding.GetString(Convert.FromBase64String(Base64Only().Replace(body, ""))); }
                catch (FormatException) { return ""; }
            default:
                return body;
        }
    }

    private static byte[] QuotedPrintable(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '=' && i + 1 < text.Length && text[i + 1] == '\n') { i++; continue; } // soft line break
            if (c == '=' && i + 2 < text.Length && Uri.IsHexDigit(text[i + 1]) && Uri.IsHexDigit(text[i + 2]))
            {
                bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                i += 2;
                continue;
            }
            if (c < 256) bytes.Add((byte)c);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return bytes.ToArray();
    }

    private static string DecodeEncodedWords(string header) => EncodedWord().Replace(header, m =>
    {
        var encoding = CharsetEncoding(m.Groups["charset"].Value);
        string payload = m.Groups["text"].Value;
        try
        {
            return m.Groups["kind"].Value.ToUpperInvariant() == "B"
                ? encoding.GetString(Convert.FromBase64String(payload))
                : encoding.GetString(QuotedPrintable(payload.Replace('_', ' ')));
        }
        catch (FormatException) { return m.Value; }
    });

    private static Encoding CharsetEncoding(string? charset) =>
        charset?.Trim('"', ' ').ToLowerInvariant() is "utf-8" or "utf8" ? Encoding.UTF8 : Encoding.Latin1;

    private static string? Parameter(string header, string name)
    {
        var m = Regex.Match(header, $@";\s*{name}\s*=\s*(""(?<v>[^""]*)""|(?<v>[^;\s]+))", RegexOptions.IgnoreCase);
        return m.Success ? m.Groups["v"].Value : null;
    }

    private static string HtmlToText(string html)
    {
        string text = ScriptOrStyle().Replace(html, " ");
        text = Comment().Replace(text, " ");
        text = BlockTag().Replace(text, "\n");
        text = AnyTag().Replace(text, " ");
        return WebUtility.HtmlDecode(text);
    }

    private static string Tidy(string text)
    {
        text = text.Replace('\u00a0', ' ');
        text = HorizontalSpace().Replace(text, " ");
        text = SpaceAroundNewline().Replace(text, "\n");
        text = BlankLines().Replace(text, "\n\n");
        return text.Trim();
    }

    [GeneratedRegex(@"=\?(?<charset>[^?]+)\?(?<kind>[bBqQ])\?(?<text>[^?]*)\?=")]
    private static partial Regex EncodedWord();

    [GeneratedRegex(@"[^A-Za-z0-9+/=]")]
    private static partial Regex Base64Only();

    [GeneratedRegex(@"<(script|style)\b.*?</\1\s*>", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex ScriptOrStyle();

    [GeneratedRegex(@"<!--.*?-->", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"<\s*(br|/p|/div|/tr|/li|/h[1-6]|p|div|tr|li)\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex BlockTag();

    [GeneratedRegex(@"<[^>]*>", RegexOptions.Singleline)]
    private static partial Regex AnyTag();

    [GeneratedRegex(@"[ \t\f\v]+")]
    private static partial Regex HorizontalSpace();

    [GeneratedRegex(@" ?\n ?")]
    private static partial Regex SpaceAroundNewline();

    [GeneratedRegex(@"\n{3,}")]
    private static partial Regex BlankLines();
}
