using System.Text.Json.Nodes;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>PEFT's <c>PromptTuningConfig</c>.</summary>
public sealed class PromptTuningConfig : PromptLearningConfig
{
    /// <summary>N(0, 1) vectors, as <c>torch.nn.Embedding</c> starts.</summary>
    public const string RandomInit = "RANDOM";

    /// <summary>The embeddings of <see cref="PromptTuningInitText"/>'s tokens, repeated or cut to num_virtual_tokens.</summary>
    public const string TextInit = "TEXT";

    /// <summary>The embeddings of tokens drawn uniformly from the vocabulary.</summary>
    public const string SampleVocabInit = "SAMPLE_VOCAB";

    private static readonly string[] Inits = [RandomInit, TextInit, SampleVocabInit];

    /// <summary>RANDOM, TEXT or SAMPLE_VOCAB.</summary>
    [ConfigKey("prompt_tuning_init")]
    public string PromptTuningInit { get; set; } = RandomInit;

    /// <summary>The text whose token embeddings start the prompt (TEXT only).</summary>
    [ConfigKey("prompt_tuning_init_text")]
    public string? PromptTuningInitText { get; set; }

    /// <summary>The tokenizer PEFT loads for TEXT; PeftHost tokenizes with the model's own tokenizer and records this as given.</summary>
    [ConfigKey("tokenizer_name_or_path")]
    public string? TokenizerNameOrPath { get; set; }

    /// <summary>Arguments PEFT passes to <c>AutoTokenizer.from_pretrained</c> (TEXT only; recorded, not used).</summary>
    [ConfigKey("tokenizer_kwargs")]
    public JsonNode? TokenizerKwargs { get; set; }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        string init = PromptTuningInit.ToUpperInvariant();
        if (!Inits.Contains(init))
        {
            string? hint = KeyNames.DidYouMean(PromptTuningInit, Inits);
            throw new ConfigException($"prompt_tuning_init must be one of {string.Join(", ", Inits)}, got \"{PromptTuningInit}\"" +
                (hint is null ? "" : $"; did you mean \"{hint}\"?"), "prompt_tuning_init");
        }
        PromptTuningInit = init;
        if (init == TextInit && PromptTuningInitText is null)
            throw new ConfigException("prompt_tuning_init TEXT needs prompt_tuning_init_text", "prompt_tuning_init_text");
        if (TokenizerKwargs is JsonObject { Count: > 0 } && init != TextInit)
            throw new ConfigException("tokenizer_kwargs is only valid with prompt_tuning_init TEXT", "tokenizer_kwargs");
    }
}
