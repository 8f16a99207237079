using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Core.Tokenization;

/// <summary>Special token ids as <c>generation_config.json</c> or <c>config.json</c> give them.</summary>
/// <param name="Path">The file they come from.</param>
/// <param name="Bos"><c>bos_token_id</c>.</param>
/// <param name="Eos"><c>eos_token_id</c>, a number or a list.</param>
/// <param name="Pad"><c>pad_token_id</c>.</param>
internal sealed record ConfiguredTokenIds(string Path, int? Bos, IReadOnlyList<int> Eos, int? Pad);

/// <summary>
/// What a model folder's <c>tokenizer_config.json</c>, <c>generation_config.json</c> and
/// <c>config.json</c> say about special tokens. Every file is optional.
/// </summary>
internal sealed record TokenizerConfigFiles
{
    /// <summary>The tokenizer_config.json path (whether or not it exists), for error messages.</summary>
    public required string TokenizerConfigPath { get; init; }
    /// <summary><c>bos_token</c>.</summary>
    public string? BosToken { get; init; }
    /// <summary><c>eos_token</c>.</summary>
    public string? EosToken { get; init; }
    /// <summary><c>pad_token</c>.</summary>
    public string? PadToken { get; init; }
    /// <summary><c>unk_token</c>.</summary>
    public string? UnkToken { get; init; }
    /// <summary><c>add_bos_token</c>.</summary>
    public bool? AddBosToken { get; init; }
    /// <summary><c>clean_up_tokenization_spaces</c>.</summary>
    public bool? CleanUpTokenizationSpaces { get; init; }
    /// <summary><c>added_tokens_decoder</c>.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; init; } = [];
    /// <summary>generation_config.json, when present.</summary>
    public ConfiguredTokenIds? Generation { get; init; }
    /// <summary>config.json, when present.</summary>
    public ConfiguredTokenIds? Model { get; init; }

    /// <summary>Reads the three files of <paramref name="folder"/>.</summary>
    /// <exception cref="TokenizerFormatException">A file is present but unreadable or malformed.</exception>
    public static TokenizerConfigFiles Read(string folder)
    {
        var path = Path.Combine(folder, "tokenizer_config.json");
        var config = JsonFiles.ReadObjectIfExists(path);
        return new TokenizerConfigFiles
        {
            TokenizerConfigPath = path,
            BosToken = TokenText(config, "bos_token", path),
            EosToken = TokenText(config, "eos_token", path),
            PadToken = TokenText(config, "pad_token", path),
            UnkToken = TokenText(config, "unk_token", path),
            AddBosToken = config?["add_bos_token"] is { } addBos ? Bool(addBos, "add_bos_token", path) : null,
            CleanUpTokenizationSpaces = config?["clean_up_tokenization_spaces"] is { } cleanUp ? Bool(cleanUp, "clean_up_tokenization_spaces", path) : null,
            AddedTokens = AddedTokensDecoder(config?["added_tokens_decoder"], path),
            Generation = ReadIds(Path.Combine(folder, "generation_config.json")),
            Model = ReadIds(Path.Combine(folder, "config.json")),
        };
    }

    /// <summary>A token given as a string or as an AddedToken object <c>{"content": ...}</c>.</summary>
    private static string? TokenText(JsonObject? config, string key, string path) => config?[key] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonObject token when token["content"] is JsonValue content && content.GetValueKind() == JsonValueKind.String
            => content.GetValue<string>(),
        var other => throw new TokenizerFormatException(path, $"\"{key}\" is {JsonFiles.Describe(other)}; expected a string or an object with \"content\""),
    };

    private static IReadOnlyList<AddedToken> AddedTokensDecoder(JsonNode? node, string path)
    {
        if (node is null)
            return [];
        if (node is not JsonObject decoder)
            throw new TokenizerFormatException(path, $"\"added_tokens_decoder\" is {JsonFiles.Describe(node)}; expected an object of id → token");
        var tokens = new List<AddedToken>(decoder.Count);
        foreach (var (key, value) in decoder)
        {
            if (!int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) || id > TokenizerModel.MaxTokenId)
                throw new TokenizerFormatException(path, $"\"added_tokens_decoder\" has the key \"{key}\", which is not a token id");
            if (value is not JsonObject token || token["content"] is not JsonValue content || content.GetValueKind() != JsonValueKind.String)
                throw new TokenizerFormatException(path, $"\"added_tokens_decoder\".\"{key}\" has no \"content\" string");
            // An empty added token would match everywhere: the tokenizer library loops on it.
            if (content.GetValue<string>().Length == 0)
                throw new TokenizerFormatException(path, $"\"added_tokens_decoder\".\"{key}\" has an empty \"content\"");
            var special = token["special"] is { } flag && Bool(flag, $"added_tokens_decoder.{key}.special", path);
            tokens.Add(new AddedToken(id, content.GetValue<string>(), special));
        }
        return tokens;
    }

    private static ConfiguredTokenIds? ReadIds(string path)
    {
        var config = JsonFiles.ReadObjectIfExists(path);
        if (config is null)
            return null;
        return new ConfiguredTokenIds(path,
            Ids(config["bos_token_id"], "bos_token_id", path).FirstOrDefault(),
            Ids(config["eos_token_id"], "eos_token_id", path).OfType<int>().ToArray(),
            Ids(config["pad_token_id"], "pad_token_id", path).FirstOrDefault());
    }

    /// <summary>A number or a list of numbers; null and negative ids (an old "none") give nothing.</summary>
    private static IEnumerable<int?> Ids(JsonNode? node, string key, string path) => node switch
    {
        null => [],
        JsonArray array => array.Select(item => Id(item, key, path)).Where(id => id is not null),
        _ => Id(node, key, path) is { } id ? [id] : [],
    };

    private static int? Id(JsonNode? node, string key, string path)
    {
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<int>(out var id))
            return id >= 0 ? id : null;
        throw new TokenizerFormatException(path, $"\"{key}\" is {JsonFiles.Describe(node)}; expected a token id or a list of them");
    }

    private static bool Bool(JsonNode node, string key, string path)
        => node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new TokenizerFormatException(path, $"\"{key}\" is {JsonFiles.Describe(node)}; expected true or false"),
        };
}
