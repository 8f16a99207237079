using System.Text.Json;

namespace PeftHost.Core.Tokenization;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> holding a BPE model, and classifies its pipeline as
/// byte-level (GPT-2, LLaMA-3) or SentencePiece style (LLaMA-2). Anything it cannot reproduce
/// exactly is refused, naming the component, rather than tokenized differently.
/// </summary>
internal sealed class HfTokenizerJsonReader
{
    private const string Space = "\u2581";
    private readonly string _path;

    private HfTokenizerJsonReader(string path) => _path = path;

    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="TokenizerFormatException">The file is malformed or uses an unsupported model or component.</exception>
    public static HfTokenizerJson Read(string path)
    {
        using var document = JsonFiles.ReadDocument(path);
        return new HfTokenizerJsonReader(path).Read(document.RootElement);
    }

    private HfTokenizerJson Read(JsonElement root)
    {
        var model = Optional(root, "model") ?? throw Fail("has no \"model\"");
        if (model.ValueKind != JsonValueKind.Object)
            throw Fail("\"model\" is not an object");
        var type = Optional(model, "type") switch
        {
            null => Optional(model, "merges") is null ? null : "BPE", // files older than "type"
            { ValueKind: JsonValueKind.String } value => value.GetString(),
            _ => throw Fail("model.type is not a string"),
        };
        if (type != "BPE")
            throw Fail($"model type \"{type ?? "(none)"}\" is not supported; only BPE models load");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (Optional(model, affix) is { ValueKind: JsonValueKind.String } value && value.GetString() != "")
                throw Fail($"model.{affix} \"{value.GetString()}\" is not supported");
        }

        var vocabulary = Vocabulary(Optional(model, "vocab") ?? throw Fail("has no model.vocab"));
        var merges = Merges(Optional(model, "merges") ?? throw Fail("has no model.merges"));
        var addedTokens = AddedTokens(Optional(root, "added_tokens"));
        var unkToken = Text(model, "unk_token");
        var byteFallback = Optional(model, "byte_fallback") is { ValueKind: JsonValueKind.True };
        var normalizers = Flatten(Optional(root, "normalizer"), "normalizers");
        var preTokenizers = Flatten(Optional(root, "pre_tokenizer"), "pretokenizers");
        var (addsBos, bosToken) = Template(Optional(root, "post_processor"));

        var parsed = new HfTokenizerJson
        {
            Vocabulary = vocabulary,
            Merges = merges,
            AddedTokens = addedTokens,
            UnkToken = unkToken,
            ByteFallback = byteFallback,
            IgnoreMerges = Optional(model, "ignore_merges") is { ValueKind: JsonValueKind.True },
            TemplateAddsBos = addsBos,
            TemplateBos = bosToken,
        };
        if (preTokenizers.Any(p => TypeOf(p) == "ByteLevel"))
            return ByteLevel(parsed, normalizers, preTokenizers);
        if (byteFallback || preTokenizers.Any(p => TypeOf(p) == "Metaspace") || normalizers.Any(IsSpaceEscape))
            return SentencePieceStyle(parsed, normalizers, preTokenizers, Optional(root, "decoder"));
        throw Fail("this BPE is neither byte-level (a ByteLevel pre-tokenizer) nor SentencePiece style (byte_fallback, Metaspace or ▁ replacement); it is not supported");
    }

    private HfTokenizerJson ByteLevel(HfTokenizerJson parsed, List<JsonElement> normalizers, List<JsonElement> preTokenizers)
    {
        var nfc = false;
        foreach (var normalizer in normalizers)
        {
            if (TypeOf(normalizer) != "NFC")
                throw Fail($"normalizer \"{TypeOf(normalizer)}\" is not supported with a byte-level BPE");
            nfc = true;
        }
        string? splitPattern = null;
        var byteLevel = default(JsonElement);
        foreach (var preTokenizer in preTokenizers)
        {
            switch (TypeOf(preTokenizer))
            {
                case "ByteLevel":
                    byteLevel = preTokenizer;
                    break;
                case "Split" when splitPattern is null:
                    splitPattern = SplitPattern(preTokenizer);
                    break;
                case var other:
                    throw Fail($"pre-tokenizer \"{other}\" is not supported with a byte-level BPE (one Split and a ByteLevel are)");
            }
        }
        var useRegex = BoolOr(byteLevel, "use_regex", true);
        if (splitPattern is not null && useRegex)
            throw Fail("a Split pre-tokenizer followed by a ByteLevel one with use_regex is not supported");
        foreach (var (left, right) in parsed.Merges)
        {
            if (left.Contains(' ') || right.Contains(' '))
                throw Fail($"the merge (\"{left}\", \"{right}\") has a space, which a byte-level vocabulary cannot hold");
        }
        return parsed with
        {
            Style = HfBpeStyle.ByteLevel,
            SplitPattern = splitPattern ?? (useRegex ? PreTokenizerPatterns.Gpt2 : @"(?s).+"),
            AddPrefixSpace = BoolOr(byteLevel, "add_prefix_space", true),
            Nfc = nfc,
        };
    }

    private HfTokenizerJson SentencePieceStyle(HfTokenizerJson parsed, List<JsonElement> normalizers, List<JsonElement> preTokenizers, JsonElement? decoder)
    {
        bool escapes = false;
        var prefix = DummyPrefix.Never;
        foreach (var normalizer in normalizers)
        {
            if (IsSpaceEscape(normalizer))
                escapes = true;
            else if (TypeOf(normalizer) == "Prepend" && Text(normalizer, "prepend") == Space)
                prefix = DummyPrefix.Always;
            else
                throw Fail($"normalizer \"{TypeOf(normalizer)}\" is not supported with a SentencePiece-style BPE (Prepend \"▁\" and Replace \" \" → \"▁\" are)");
        }
        foreach (var preTokenizer in preTokenizers)
        {
            // Gemma splits at spaces after its normalizer has replaced every space by ▁: nothing is left to split.
            if (escapes && TypeOf(preTokenizer) == "Split"
                && Optional(preTokenizer, "pattern") is { ValueKind: JsonValueKind.Object } pattern && Text(pattern, "String") == " ")
                continue;
            if (TypeOf(preTokenizer) != "Metaspace" || Text(preTokenizer, "replacement") != Space)
                throw Fail($"pre-tokenizer \"{TypeOf(preTokenizer)}\" is not supported with a SentencePiece-style BPE (Metaspace \"▁\" is, and a Split at \" \" after spaces became ▁)");
            escapes = true;
            var scheme = Text(preTokenizer, "prepend_scheme")
                ?? (BoolOr(preTokenizer, "add_prefix_space", true) ? "always" : "never");
            prefix = scheme switch
            {
                "always" => DummyPrefix.Always,
                "first" => DummyPrefix.First,
                "never" => prefix,
                _ => throw Fail($"the Metaspace prepend_scheme \"{scheme}\" is not one of always, first, never"),
            };
        }
        if (!escapes)
            throw Fail("a SentencePiece-style BPE must write spaces as ▁ (a Replace normalizer or a Metaspace pre-tokenizer)");
        if (parsed.UnkToken is null)
            throw Fail("a SentencePiece-style BPE needs model.unk_token");
        return parsed with
        {
            Style = HfBpeStyle.SentencePiece,
            Prefix = prefix,
            StripLeadingSpaces = decoder is null ? (prefix == DummyPrefix.Never ? 0 : 1) : SentencePieceDecoder(decoder.Value),
        };
    }

    /// <summary>
    /// How many leading spaces the decoder strips. The decoder must be what SentencePiece-style files hold:
    /// Replace ▁ → " ", ByteFallback, Fuse and a Strip of leading spaces, or a Metaspace decoder.
    /// </summary>
    private int SentencePieceDecoder(JsonElement decoder)
    {
        var strip = 0;
        var replaces = false;
        foreach (var step in Flatten(decoder, "decoders"))
        {
            switch (TypeOf(step))
            {
                case "Replace" when Optional(step, "pattern") is { ValueKind: JsonValueKind.Object } pattern
                                   && Text(pattern, "String") == Space && Text(step, "content") == " ":
                    replaces = true;
                    break;
                case "ByteFallback" or "Fuse":
                    break;
                case "Strip" when Text(step, "content") == " " && IntOr(step, "stop", 0) == 0:
                    strip = IntOr(step, "start", 0);
                    break;
                case "Metaspace" when Text(step, "replacement") == Space:
                    replaces = true;
                    strip = (Text(step, "prepend_scheme") ?? (BoolOr(step, "add_prefix_space", true) ? "always" : "never")) == "never" ? 0 : 1;
                    break;
                case var other:
                    throw Fail($"decoder \"{other}\" is not supported with a SentencePiece-style BPE (Replace \"▁\" → \" \", ByteFallback, Fuse, Strip and Metaspace are)");
            }
        }
        if (!replaces)
            throw Fail("the decoder of a SentencePiece-style BPE must turn ▁ back into spaces (a Replace or Metaspace decoder)");
        return strip;
    }

    private static bool IsSpaceEscape(JsonElement normalizer)
        => TypeOf(normalizer) == "Replace"
           && Optional(normalizer, "pattern") is { ValueKind: JsonValueKind.Object } pattern
           && Text(pattern, "String") == " "
           && Text(normalizer, "content") == Space;

    private string SplitPattern(JsonElement split)
    {
        if (Text(split, "behavior") != "Isolated" || Optional(split, "invert") is { ValueKind: JsonValueKind.True })
            throw Fail("only Split pre-tokenizers with behavior \"Isolated\" and invert false are supported");
        return Optional(split, "pattern") is { ValueKind: JsonValueKind.Object } pattern
               && Optional(pattern, "Regex") is { ValueKind: JsonValueKind.String } regex
            ? regex.GetString()!
            : throw Fail("the Split pre-tokenizer has no pattern.Regex");
    }

    /// <summary>What a TemplateProcessing post-processor puts before the sequence.</summary>
    private (bool? AddsBos, string? Bos) Template(JsonElement? postProcessor)
    {
        var template = Flatten(postProcessor, "processors").FirstOrDefault(p => TypeOf(p) == "TemplateProcessing");
        if (template.ValueKind != JsonValueKind.Object)
            return (null, null);
        if (Optional(template, "single") is not { ValueKind: JsonValueKind.Array } single || single.GetArrayLength() == 0)
            throw Fail("the TemplateProcessing post-processor has no \"single\" template");
        var first = single[0];
        return Optional(first, "SpecialToken") is { } special
            ? (true, Text(special, "id") ?? throw Fail("a SpecialToken in the post-processor template has no id"))
            : (false, null);
    }

    private Dictionary<string, int> Vocabulary(JsonElement vocab)
    {
        if (vocab.ValueKind != JsonValueKind.Object)
            throw Fail("model.vocab is not an object of token → id");
        var vocabulary = new Dictionary<string, int>();
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id is < 0 or > TokenizerModel.MaxTokenId)
                throw Fail($"model.vocab[\"{entry.Name}\"] is not a token id");
            vocabulary[entry.Name] = id;
        }
        return vocabulary;
    }

    private List<(string Left, string Right)> Merges(JsonElement merges)
    {
        if (merges.ValueKind != JsonValueKind.Array)
            throw Fail("model.merges is not an array");
        var pairs = new List<(string, string)>(merges.GetArrayLength());
        var rank = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            pairs.Add(merge.ValueKind switch
            {
                JsonValueKind.String when merge.GetString()!.Split(' ') is [var left, var right] => (left, right),
                JsonValueKind.Array when merge.GetArrayLength() == 2
                    && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String
                    => (merge[0].GetString()!, merge[1].GetString()!),
                _ => throw Fail($"model.merges[{rank}] is not \"left right\" or [left, right]"),
            });
            rank++;
        }
        return pairs;
    }

    private List<AddedToken> AddedTokens(JsonElement? added)
    {
        if (added is null)
            return [];
        if (added.Value.ValueKind != JsonValueKind.Array)
            throw Fail("\"added_tokens\" is not an array");
        var tokens = new List<AddedToken>();
        var index = 0;
        foreach (var token in added.Value.EnumerateArray())
        {
            if (token.ValueKind != JsonValueKind.Object
                || Optional(token, "id") is not { ValueKind: JsonValueKind.Number } id || !id.TryGetInt32(out var value) || value is < 0 or > TokenizerModel.MaxTokenId
                || Optional(token, "content") is not { ValueKind: JsonValueKind.String } content)
                throw Fail($"added_tokens[{index}] needs an \"id\" and a \"content\"");
            // An empty added token would match everywhere: the tokenizer library loops on it.
            if (content.GetString()!.Length == 0)
                throw Fail($"added_tokens[{index}] has an empty \"content\"");
            tokens.Add(new AddedToken(value, content.GetString()!, Optional(token, "special") is { ValueKind: JsonValueKind.True }));
            index++;
        }
        return tokens;
    }

    /// <summary>A component, or the members of a "Sequence" component, in order.</summary>
    private List<JsonElement> Flatten(JsonElement? component, string membersKey)
    {
        var flat = new List<JsonElement>();
        if (component is not { } element)
            return flat;
        if (element.ValueKind != JsonValueKind.Object || Optional(element, "type") is not { ValueKind: JsonValueKind.String })
            throw Fail($"a {membersKey.TrimEnd('s')} has no \"type\"");
        if (TypeOf(element) != "Sequence")
        {
            flat.Add(element);
            return flat;
        }
        if (Optional(element, membersKey) is not { ValueKind: JsonValueKind.Array } members)
            throw Fail($"a Sequence has no \"{membersKey}\" array");
        foreach (var member in members.EnumerateArray())
            flat.AddRange(Flatten(member, membersKey));
        return flat;
    }

    private static string? TypeOf(JsonElement component) => Text(component, "type");

    /// <summary>The property <paramref name="name"/>, or null when it is missing or JSON null.</summary>
    private static JsonElement? Optional(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    /// <summary>The string property <paramref name="name"/>, or null when it is missing or not a string.</summary>
    private static string? Text(JsonElement element, string name)
        => Optional(element, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    private static bool BoolOr(JsonElement element, string name, bool fallback) => Optional(element, name)?.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => fallback,
    };

    private static int IntOr(JsonElement element, string name, int fallback)
        => Optional(element, name) is { ValueKind: JsonValueKind.Number } value && value.TryGetInt32(out var number) ? number : fallback;

    private TokenizerFormatException Fail(string message) => new(_path, message);
}
