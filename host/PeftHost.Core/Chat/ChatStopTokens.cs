using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Chat;

/// <summary>
/// The ids at which a chat reply ends. A chat model closes its turn with an end-of-turn token that is often not
/// its configured end-of-sequence token (Llama 3's <c>&lt;|eot_id|&gt;</c> against <c>&lt;|end_of_text|&gt;</c>,
/// Gemma's <c>&lt;end_of_turn&gt;</c>, ChatML's <c>&lt;|im_end|&gt;</c>): stopping only at EOS would let the model
/// run on into a made-up next turn. So the reply stops at the union of the configured EOS ids
/// (generation_config.json, config.json, the tokenizer's) and the end-of-turn tokens the tokenizer defines.
/// </summary>
public static class ChatStopTokens
{
    /// <summary>Added-token texts that close a turn in the common chat formats.</summary>
    public static readonly IReadOnlyList<string> EndOfTurnTexts =
        ["<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|im_end|>", "<|end|>", "<|endoftext|>", "<|end_of_text|>", "</s>"];

    /// <summary>The stop ids for a model folder (null when the model has none) and its tokenizer.</summary>
    /// <exception cref="TokenizerFormatException">A configuration file of the folder is malformed.</exception>
    public static IReadOnlySet<int> For(string? folder, TextTokenizer tokenizer, IEnumerable<int> modelEosIds)
    {
        var ids = new HashSet<int>(modelEosIds);
        ids.UnionWith(tokenizer.EosTokenIds);
        if (folder is null) return ids;
        var files = TokenizerConfigFiles.Read(folder);
        if (files.Generation is { } generation) ids.UnionWith(generation.Eos);
        if (files.Model is { } model) ids.UnionWith(model.Eos);
        foreach (var token in files.AddedTokens)
            if (EndOfTurnTexts.Contains(token.Content) || token.Content == files.EosToken)
                ids.Add(token.Id);
        return ids;
    }
}
