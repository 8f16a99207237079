using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Core.IO;

/// <summary>
/// Parses JSON that comes from files (configs, headers, tokenizers) so that every problem surfaces
/// as a <see cref="JsonException"/> at parse time. System.Text.Json checks the text inside strings
/// (invalid UTF-8, unpaired surrogate escapes) only when a string is first read, and a
/// <see cref="JsonObject"/> with a repeated key throws <see cref="ArgumentException"/> only when
/// first used — both far from the reader's error handling. Here repeated keys are refused and every
/// string and property name is checked up front.
/// </summary>
public static class StrictJson
{
    /// <summary>The document options: no repeated keys, nesting limited to <paramref name="maxDepth"/>.</summary>
    public static JsonDocumentOptions DocumentOptions(bool allowTrailingCommas = false, int maxDepth = 64) => new()
    {
        AllowDuplicateProperties = false,
        AllowTrailingCommas = allowTrailingCommas,
        MaxDepth = maxDepth,
    };

    /// <summary>Parses <paramref name="utf8"/> (a UTF-8 byte order mark is skipped) into a node.</summary>
    /// <exception cref="JsonException">Not JSON, a repeated key, or a string that is not valid text.</exception>
    public static JsonNode? ParseNode(ReadOnlySpan<byte> utf8, bool allowTrailingCommas = false)
    {
        utf8 = SkipBom(utf8);
        var options = DocumentOptions(allowTrailingCommas);
        CheckStrings(utf8, options);
        return JsonNode.Parse(utf8, documentOptions: options);
    }

    /// <summary>Parses <paramref name="utf8"/> (a UTF-8 byte order mark is skipped) into a document; the caller disposes it.</summary>
    /// <exception cref="JsonException">Not JSON, a repeated key, or a string that is not valid text.</exception>
    public static JsonDocument ParseDocument(ReadOnlyMemory<byte> utf8, bool allowTrailingCommas = false, int maxDepth = 64)
    {
        if (SkipBom(utf8.Span).Length != utf8.Length) utf8 = utf8[3..];
        var options = DocumentOptions(allowTrailingCommas, maxDepth);
        CheckStrings(utf8.Span, options);
        return JsonDocument.Parse(utf8, options);
    }

    /// <summary>Reads every property name and string of <paramref name="utf8"/>, turning a text error into a <see cref="JsonException"/>.</summary>
    private static void CheckStrings(ReadOnlySpan<byte> utf8, JsonDocumentOptions options)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions
        {
            AllowTrailingCommas = options.AllowTrailingCommas,
            MaxDepth = options.MaxDepth,
            CommentHandling = options.CommentHandling,
        });
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName)) continue;
            try
            {
                reader.GetString();
            }
            catch (InvalidOperationException e)
            {
                throw new JsonException($"the string at byte {reader.TokenStartIndex} is not valid text: {e.Message}");
            }
        }
    }

    private static ReadOnlySpan<byte> SkipBom(ReadOnlySpan<byte> utf8) => utf8.StartsWith("\uFEFF"u8) ? utf8[3..] : utf8;
}
