using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Core.Tokenization;

/// <summary>Reads the JSON files of a tokenizer folder, reporting any problem against the file.</summary>
internal static class JsonFiles
{
    /// <summary>Indented output that keeps non-ASCII tokens readable, as Hugging Face writes them.</summary>
    public static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The JSON object in <paramref name="path"/>, or null when there is no such file.</summary>
    /// <exception cref="TokenizerFormatException">The file cannot be read, is not JSON, or is not an object.</exception>
    public static JsonObject? ReadObjectIfExists(string path)
        => File.Exists(path) ? ReadObject(path) : null;

    /// <summary>The JSON object in <paramref name="path"/>.</summary>
    /// <exception cref="TokenizerFormatException">The file is missing, cannot be read, is not JSON, or is not an object.</exception>
    public static JsonObject ReadObject(string path)
    {
        JsonNode? node;
        try
        {
            node = IO.StrictJson.ParseNode(File.ReadAllBytes(path), allowTrailingCommas: true);
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"is not valid JSON ({e.Message})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFormatException(path, $"cannot be read: {e.Message}", e);
        }
        return node as JsonObject
            ?? throw new TokenizerFormatException(path, $"holds {Describe(node)} where a JSON object was expected");
    }

    /// <summary>The parsed document in <paramref name="path"/>, for large files (tokenizer.json); the caller disposes it.</summary>
    /// <exception cref="TokenizerFormatException">The file cannot be read, is not JSON, or is not an object.</exception>
    public static JsonDocument ReadDocument(string path)
    {
        JsonDocument document;
        try
        {
            document = IO.StrictJson.ParseDocument(File.ReadAllBytes(path), allowTrailingCommas: true);
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"is not valid JSON ({e.Message})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFormatException(path, $"cannot be read: {e.Message}", e);
        }
        if (document.RootElement.ValueKind == JsonValueKind.Object)
            return document;
        var kind = document.RootElement.ValueKind;
        document.Dispose();
        throw new TokenizerFormatException(path, $"holds a JSON {kind.ToString().ToLowerInvariant()} where an object was expected");
    }

    /// <summary>"an array", "a string", … for error messages.</summary>
    public static string Describe(JsonNode? node) => node?.GetValueKind() switch
    {
        null or JsonValueKind.Null => "null",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        _ => "a boolean",
    };
}
