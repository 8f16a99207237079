namespace PeftHost.Core.Tokenization;

/// <summary>
/// Decides a tokenizer's special ids: <c>tokenizer_config.json</c> first, then
/// <c>generation_config.json</c>, then <c>config.json</c>, then what the tokenizer file itself names.
/// </summary>
internal static class SpecialTokenResolver
{
    /// <summary>The special ids of <paramref name="model"/> under <paramref name="config"/>.</summary>
    /// <exception cref="TokenizerFormatException">A configured token is not in the vocabulary, or an id is out of range.</exception>
    public static SpecialTokenIds Resolve(TokenizerModel model, TokenizerConfigFiles config)
    {
        int? Token(string? text, string key) => text is null ? null
            : model.IdOf(text) ?? throw new TokenizerFormatException(config.TokenizerConfigPath, $"\"{key}\" \"{text}\" is not in the vocabulary");
        int? Checked(int? id, ConfiguredTokenIds? source, string key) => id is null || id < model.VocabSize ? id
            : throw new TokenizerFormatException(source!.Path, $"\"{key}\" {id} is outside the tokenizer's {model.VocabSize} ids");
        IEnumerable<int> CheckedAll(ConfiguredTokenIds? source) => source?.Eos.Select(id => Checked(id, source, "eos_token_id")!.Value) ?? [];

        var generation = config.Generation;
        var modelConfig = config.Model;
        var bos = Token(config.BosToken, "bos_token")
            ?? Checked(generation?.Bos, generation, "bos_token_id")
            ?? Checked(modelConfig?.Bos, modelConfig, "bos_token_id")
            ?? model.DefaultBos;
        var pad = Token(config.PadToken, "pad_token")
            ?? Checked(generation?.Pad, generation, "pad_token_id")
            ?? Checked(modelConfig?.Pad, modelConfig, "pad_token_id");
        var unk = Token(config.UnkToken, "unk_token") ?? model.UnkId;

        // EOS is a set: the tokenizer's own plus generation_config's stop ids (chat models list several).
        var eos = new List<int>();
        if (Token(config.EosToken, "eos_token") is { } configuredEos)
            eos.Add(configuredEos);
        eos.AddRange(CheckedAll(generation));
        if (eos.Count == 0)
            eos.AddRange(CheckedAll(modelConfig));
        if (eos.Count == 0 && model.DefaultEos is { } defaultEos)
            eos.Add(defaultEos);
        var eosIds = eos.Distinct().ToArray();

        var addBos = bos is not null
            && (config.AddBosToken ?? model.AddBosHint ?? model.Kind == TokenizerKinds.SentencePiece);

        var all = new HashSet<int>(eosIds);
        foreach (var id in new[] { bos, pad, unk })
        {
            if (id is { } value)
                all.Add(value);
        }
        all.UnionWith(model.AddedTokens.Concat(config.AddedTokens).Where(t => t.Special).Select(t => t.Id));
        return new SpecialTokenIds(bos, eosIds, pad, addBos, all);
    }
}
