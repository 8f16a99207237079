using System.Text.Json.Nodes;
using PeftHost.Sdk;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// PEFT's <c>PromptLearningConfig</c>: the keys every prompt-learning adapter config carries. The model-derived
/// ones (<c>token_dim</c>, <c>num_layers</c>, <c>num_attention_heads</c>, <c>num_transformer_submodules</c>) are filled
/// in from the model when the adapter is injected, as PEFT's <c>_prepare_prompt_learning_config</c> does, and saved.
/// </summary>
public abstract class PromptLearningConfig : PeftConfig
{
    /// <summary>The number of virtual tokens (required).</summary>
    [ConfigKey("num_virtual_tokens")]
    public int? NumVirtualTokens { get; set; }

    /// <summary>The width of a virtual token (prefix tuning with grouped-query attention: key/value heads × head dim).</summary>
    [ConfigKey("token_dim")]
    public int? TokenDim { get; set; }

    /// <summary>1 for decoder-only models (2 for encoder-decoder models, which PeftHost does not run).</summary>
    [ConfigKey("num_transformer_submodules")]
    public int? NumTransformerSubmodules { get; set; }

    /// <summary>The model's attention heads (prefix tuning with grouped-query attention: its key/value heads).</summary>
    [ConfigKey("num_attention_heads")]
    public int? NumAttentionHeads { get; set; }

    /// <summary>The model's transformer layers.</summary>
    [ConfigKey("num_layers")]
    public int? NumLayers { get; set; }


    /// <summary>num_virtual_tokens × num_transformer_submodules (PEFT's <c>total_virtual_tokens</c>).</summary>
    public int TotalVirtualTokens => (NumVirtualTokens ?? 0) * (NumTransformerSubmodules ?? 1);

    /// <summary>
    /// Fills the model-derived keys the way PEFT does: num_layers, token_dim (hidden size) and num_attention_heads
    /// when missing; for prefix tuning (<paramref name="keyValueHeads"/>) token_dim becomes the width of the
    /// model's keys, key/value heads × head_dim, and num_attention_heads the key/value heads;
    /// num_transformer_submodules becomes 1.
    /// </summary>
    /// <remarks>
    /// PEFT takes head_dim from the model's config (Qwen3 and Gemma set it independently of hidden / heads), so the
    /// prefix has exactly the shape of the layers' own keys and values: [batch, kv heads, virtual tokens, head_dim].
    /// </remarks>
    public virtual void Resolve(ModelDimensions model, bool keyValueHeads)
    {
        NumLayers ??= model.NumLayers;
        TokenDim ??= model.HiddenSize;
        NumAttentionHeads ??= model.NumAttentionHeads;
        if (keyValueHeads)
        {
            TokenDim = model.HeadDim * model.NumKeyValueHeads;
            NumAttentionHeads = model.NumKeyValueHeads;
        }
        NumTransformerSubmodules ??= 1;
    }

    /// <inheritdoc />
    public override void Validate()
    {
        if (NumVirtualTokens is null or <= 0)
            throw new ConfigException($"num_virtual_tokens must be a positive integer, got {NumVirtualTokens?.ToString() ?? "null"}", "num_virtual_tokens");
        Positive(TokenDim, "token_dim");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(NumLayers, "num_layers");
        if (NumTransformerSubmodules is { } n && n != 1)
            throw new ConfigException($"num_transformer_submodules must be 1 for decoder-only models, got {n}", "num_transformer_submodules");
    }

    /// <summary>Throws naming <paramref name="key"/> when <paramref name="value"/> is set and not positive.</summary>
    protected static void Positive(int? value, string key)
    {
        if (value is { } v && v <= 0) throw new ConfigException($"{key} must be a positive integer, got {v}", key);
    }
}
