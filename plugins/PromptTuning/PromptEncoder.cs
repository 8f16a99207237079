using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using PeftHost.Sdk.Tuners;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>
/// PEFT's <c>PromptEncoder</c> (P-tuning): a table <c>embedding</c> [V, token_dim] reparametrised, when training, by
/// <list type="bullet">
/// <item>MLP: <c>mlp_head</c> = Linear(token_dim, H) → ReLU → Linear(H, H) → ReLU → Linear(H, token_dim);</item>
/// <item>LSTM: <c>lstm_head</c> = bidirectional LSTM(token_dim → H, encoder_num_layers, dropout encoder_dropout,
/// batch first) over the V tokens as one sequence, then <c>mlp_head</c> = Linear(2H, 2H) → ReLU → Linear(2H, token_dim).</item>
/// </list>
/// An inference-mode encoder, or one whose saved output was loaded, is the plain table.
/// </summary>
public sealed class PromptEncoder : VirtualTokenEncoder
{
    private EmbeddingTable _embedding;
    private nn.Module<Tensor, Tensor>? _mlpHead;
    private LSTM? _lstmHead;

    /// <summary>Builds the encoder for <paramref name="config"/> (resolved) on <paramref name="device"/>.</summary>
    public PromptEncoder(PromptEncoderConfig config, Device device, bool trainable) : base("PromptEncoder")
    {
        long tokenDim = config.TokenDim!.Value;
        long hidden = config.EncoderHiddenSize!.Value;
        _embedding = new EmbeddingTable(config.TotalVirtualTokens, tokenDim, device, trainable: trainable);
        register_module("embedding", _embedding);
        if (config.InferenceMode) return;
        if (config.EncoderReparameterizationType == PromptEncoderConfig.Lstm)
        {
            _lstmHead = nn.LSTM(tokenDim, hidden, config.EncoderNumLayers, bias: true, batchFirst: true,
                dropout: config.EncoderDropout, bidirectional: true, device: device, dtype: ScalarType.Float32);
            _mlpHead = nn.Sequential(
                ("0", PromptLayers.Linear(hidden * 2, hidden * 2, device)),
                ("1", nn.ReLU()),
                ("2", PromptLayers.Linear(hidden * 2, tokenDim, device)));
            register_module("lstm_head", _lstmHead);
        }
        else
        {
            _mlpHead = nn.Sequential(
                ("0", PromptLayers.Linear(tokenDim, hidden, device)),
                ("1", nn.ReLU()),
                ("2", PromptLayers.Linear(hidden, hidden, device)),
                ("3", nn.ReLU()),
                ("4", PromptLayers.Linear(hidden, tokenDim, device)));
        }
        register_module("mlp_head", _mlpHead);
        foreach (var (_, p) in named_parameters()) p.requires_grad = trainable;
    }

    /// <inheritdoc />
    public override EmbeddingTable Embedding => _embedding;

    /// <inheritdoc />
    public override bool IsReparameterized => _mlpHead is not null;

    /// <inheritdoc />
    public override Tensor Embeddings()
    {
        if (_mlpHead is null) return _embedding.Weight;
        if (_lstmHead is null) return _mlpHead.forward(_embedding.Weight);
        using var scope = NewDisposeScope();
        var (output, _, _) = _lstmHead.forward(_embedding.Weight.unsqueeze(0));
        return _mlpHead.forward(output).squeeze(0).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override void LoadEmbeddings(Tensor embeddings)
    {
        if (_mlpHead is not null)
        {
            register_module("mlp_head", null!);
            _mlpHead.Dispose();
            _mlpHead = null;
        }
        if (_lstmHead is not null)
        {
            register_module("lstm_head", null!);
            _lstmHead.Dispose();
            _lstmHead = null;
        }
        using var _ = no_grad();
        _embedding.Weight.copy_(embeddings);
    }
}
