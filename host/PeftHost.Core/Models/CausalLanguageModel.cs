using PeftHost.Core.Training;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Core.Models;

/// <summary>
/// A LLaMA-family causal language model under Hugging Face names: <c>model.*</c> and
/// <c>lm_head</c>. Forward takes token ids, an optional padding mask and an optional KV cache,
/// and honours the adapters' input-embedding and attention-prefix hooks.
/// </summary>
public sealed class CausalLanguageModel : HfModule
{
    private static readonly string[] UntiedChildren = ["lm_head"];
    private nn.Module<Tensor, Tensor>? _lmHead;
    private readonly RotaryEmbedding _rope;
    private readonly RotaryEmbedding? _slidingRope; // Gemma 3's local RoPE; other families rotate every layer alike

    /// <summary>Builds the model; weights are filled as <paramref name="factory"/> says.</summary>
    public CausalLanguageModel(ModelConfig config, ParameterFactory factory) : base("LlamaForCausalLM")
    {
        Config = config;
        Device = factory.Device;
        Dtype = factory.Dtype;
        Model = new LlamaModel(config, factory);
        register_module("model", Model);
        if (!config.TieWordEmbeddings)
        {
            _lmHead = factory.Linear(config.HiddenSize, config.VocabSize, bias: false);
            register_module("lm_head", _lmHead);
        }
        Model.TableReplaced = UntieOutputLayer;
        _rope = new RotaryEmbedding(config, Device);
        _slidingRope = RotaryEmbedding.ForSlidingLayers(config, Device);
    }

    /// <summary>The model's config (untied by <see cref="UntieOutputLayer"/> when its input table is replaced).</summary>
    public ModelConfig Config { get; private set; }

    /// <summary>Where the weights live.</summary>
    public Device Device { get; private set; }

    /// <summary>The dtype of the weights.</summary>
    public ScalarType Dtype { get; private set; }

    /// <summary>The decoder stack.</summary>
    public LlamaModel Model { get; }

    /// <summary>Adapter hooks and routing consulted by every forward pass.</summary>
    public ModelHooks Hooks { get; } = new();

    /// <summary>
    /// Recompute each decoder layer's activations during backward instead of keeping them
    /// (gradient checkpointing). Applies only to passes that record gradients without a KV cache.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>The output projection (null when tied to the embedding).</summary>
    public nn.Module<Tensor, Tensor>? LmHead => _lmHead;

    /// <inheritdoc />
    public override IReadOnlyCollection<string> ReplaceableChildren => Config.TieWordEmbeddings ? [] : UntiedChildren;

    /// <inheritdoc />
    protected override void SetChild(string childName, nn.Module<Tensor, Tensor> module) => _lmHead = module;

    /// <summary>
    /// A tied model reads its output layer from the input table. When an adapter's trained copy of
    /// embed_tokens is merged (PEFT's <c>modules_to_save</c> without <c>ensure_weight_tying</c>), only the
    /// input side was trained: the unmerged model embedded with the copy and projected with the original
    /// table. Merged, it must do the same, so the output layer keeps the original table as its own
    /// <c>lm_head</c> and the config says <c>tie_word_embeddings: false</c>, so a saved model reloads as it
    /// ran. (transformers + PEFT leave the two apart in memory but keep the tied config, so their merged
    /// model reloads re-tied and changed: huggingface/peft#2777.)
    /// </summary>
    private void UntieOutputLayer(Parameter previousTable)
    {
        if (!Config.TieWordEmbeddings) return;
        var head = nn.Linear(previousTable, null);
        _lmHead = head;
        register_module("lm_head", head);
        Config = Config with { TieWordEmbeddings = false };
    }

    /// <summary>
    /// Next-token logits [B, T, vocab] (or [B, 1, vocab] with <paramref name="lastPositionOnly"/>).
    /// </summary>
    /// <param name="inputIds">Token ids [B, T] (int64).</param>
    /// <param name="attentionMask">1 for real tokens, 0 for padding, over past and current tokens [B, past + T]; null when nothing is padded.
    /// A packed row numbers its sequences 1, 2, … instead of 1: attention stays within each and positions restart.</param>
    /// <param name="cache">A KV cache to read and extend, for incremental decoding.</param>
    /// <param name="lastPositionOnly">Project only the last position through lm_head (decoding).</param>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, bool lastPositionOnly = false)
    {
        using var scope = NewDisposeScope();
        var hidden = FinalHidden(inputIds, attentionMask, cache, lastPositionOnly);
        return Logits(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The table a tied output layer projects with: an adapter's trained copy of embed_tokens where the adapter keeps
    /// the tie (<see cref="ITiedOutputTable"/>, PEFT's <c>ensure_weight_tying</c>), else the model's own table.
    /// </summary>
    private Tensor TiedOutputTable => (Model.EmbedTokens as ITiedOutputTable)?.OutputTable ?? Model.EmbeddingWeight;

    /// <summary>lm_head (or the tied table) over <paramref name="hidden"/>, soft-capped as cap·tanh(logit/cap) where the family does (Gemma 2).</summary>
    private Tensor Logits(Tensor hidden)
    {
        var logits = _lmHead is not null ? FloatMatVec.Forward(_lmHead, hidden) : FloatMatVec.Linear(hidden, TiedOutputTable);
        return Config.FinalLogitSoftcapping is double cap ? logits.DividedBy(cap).tanh().Times(cap) : logits;
    }

    /// <summary>
    /// Summed next-token negative log-likelihood of <paramref name="labels"/> [B, T] (−100 ignored)
    /// as a float32 scalar with gradient — the same value as cross-entropy over
    /// <see cref="Forward"/>'s logits. When the output layer is a plain bias-free linear (or tied to
    /// the embedding) the logits are never materialised (<see cref="FusedLinearCrossEntropy"/>);
    /// an output layer replaced by an adapter, or soft-capped logits, take the ordinary path.
    /// </summary>
    public Tensor NextTokenLossSum(Tensor inputIds, Tensor? attentionMask, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var hidden = FinalHidden(inputIds, attentionMask, cache: null, lastPositionOnly: false);
        Tensor? weight = Config.FinalLogitSoftcapping is not null ? null : _lmHead switch
        {
            null => TiedOutputTable,
            Linear { bias: null } plain => plain.weight,
            _ => null,
        };
        var loss = weight is null
            ? LanguageModelLoss.Sum(Logits(hidden), labels)
            : FusedLinearCrossEntropy.Sum(hidden.reshape(-1, hidden.shape[^1]), weight, LanguageModelLoss.NextTokenLabels(labels));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>The final norm's output [B, T, hidden] (the input of lm_head), in the caller's dispose scope.</summary>
    private Tensor FinalHidden(Tensor inputIds, Tensor? attentionMask, KvCache? cache, bool lastPositionOnly)
    {
        // Every evaluation, generation and training step passes here; on meta, libtorch would fail later with a native dump.
        if (Device.type == DeviceType.META)
            throw new InvalidOperationException("the model is on the meta device, which holds shapes but no weights; load it on cpu or cuda to run it");
        var hidden = Model.EmbedTokens.forward(inputIds);
        long batch = hidden.shape[0];
        bool firstPass = cache is null || cache.Length == 0;

        // Gemma scales input embeddings by √hidden rounded to the activations' dtype: Gemma 3 in its lookup, so the
        // token embeddings alone; Gemma 2 the model's whole input, virtual tokens included (as transformers does).
        Tensor Scaled(Tensor x) => x * tensor(Config.EmbeddingScale, x.dtype, x.device);
        if (Config.ScaleEmbeddings && Config.EmbeddingScaleInLookup) hidden = Scaled(hidden);
        var embeddingHook = firstPass ? Hooks.ActiveInputEmbeddingHook() : null;
        int virtualNow = 0;
        if (embeddingHook is not null)
        {
            virtualNow = embeddingHook.VirtualTokenCount;
            hidden = cat([embeddingHook.VirtualEmbeddings(batch).to(hidden.dtype), hidden], 1);
        }
        if (Config.ScaleEmbeddings && !Config.EmbeddingScaleInLookup) hidden = Scaled(hidden);
        int virtualTotal = cache is null ? virtualNow : (firstPass ? virtualNow : cache.VirtualTokens);
        if (attentionMask is not null && virtualTotal > 0)
            attentionMask = cat([ones(batch, virtualTotal, attentionMask.dtype, attentionMask.device), attentionMask], 1);

        var prefixProvider = Hooks.ActiveAttentionPrefix();
        IAttentionPrefix? prefix = null;
        int prefixLength;
        if (cache is not null && !firstPass) prefixLength = cache.PrefixLength;
        else if (prefixProvider is not null)
        {
            prefix = prefixProvider.Compute(batch);
            prefixLength = prefixProvider.PrefixLength;
        }
        else prefixLength = 0;

        try
        {
            long t = hidden.shape[1];
            int seqPast = cache is null ? 0 : cache.Length - cache.PrefixLength;
            // Hugging Face numbers tokens after an attention prefix (past_key_values) from P on;
            // matching it keeps prefix adapters trained in Python PEFT exact here.
            var positions = PositionIds(attentionMask, seqPast, t, batch).Plus(prefixLength);
            int cacheOffset = cache is null ? 0 : (firstPass ? prefixLength : cache.Length);
            AttentionContext Context(RotaryEmbedding rope, int? window)
            {
                var (cos, sin) = rope.Compute(positions, hidden.dtype);
                var (mask, isCausal) = BuildMask(attentionMask, window, prefixLength, seqPast, t, batch);
                return new AttentionContext { Cos = cos, Sin = sin, Mask = mask, IsCausal = isCausal, Cache = cache, CacheOffset = cacheOffset, Prefix = prefix };
            }
            // Full-attention layers and sliding-window layers differ in their mask (and, in Gemma 3, their RoPE base).
            var global = Context(_rope, window: null);
            var sliding = Config.SlidingLayers.Contains(true) ? Context(_slidingRope ?? _rope, Config.SlidingWindow) : global;
            bool recompute = GradientCheckpointing && cache is null && is_grad_enabled();
            for (int i = 0; i < Model.Layers.Count; i++)
            {
                var ctx = Config.IsSlidingLayer(i) ? sliding : global;
                hidden = recompute ? ActivationCheckpoint.Run(Model.Layers[i], i, hidden, ctx) : Model.Layers[i].Forward(hidden, ctx);
            }
            hidden = Model.Norm.forward(hidden);

            if (cache is not null)
            {
                if (firstPass) { cache.PrefixLength = prefixLength; cache.VirtualTokens = virtualNow; }
                cache.Length = cacheOffset + (int)t;
            }
            if (virtualNow > 0) hidden = hidden[.., virtualNow..];
            if (lastPositionOnly) hidden = hidden[.., ^1..];
            return hidden;
        }
        finally
        {
            prefix?.Dispose();
        }
    }

    /// <summary>
    /// Positions count real tokens only, so left padding does not shift them (as HF does); in a packed row they
    /// restart at 0 where each sequence starts (its number is higher than every one before it), as HF's
    /// position ids do for packed sequences.
    /// </summary>
    private Tensor PositionIds(Tensor? mask, int seqPast, long t, long batch)
    {
        if (mask is null)
        {
            using var start = seqPast.ToScalar();
            using var stop = (seqPast + t).ToScalar();
            return arange(start, stop, TensorArithmetic.One, ScalarType.Int64, Device).unsqueeze(0).expand(batch, t);
        }
        using var zero = 0.ToScalar();
        var segment = mask.to(ScalarType.Int64);
        var counted = (segment != zero).to(ScalarType.Int64).cumsum(-1).Minus(1);
        var highestBefore = F.pad(segment.cummax(-1).values[.., ..^1], [1, 0]);
        var startCount = where(segment > highestBefore, counted, zeros_like(counted)).cummax(-1).values;
        return (counted - startCount).clamp_min(zero)[.., ^(int)t..];
    }

    /// <summary>
    /// The attention mask in key space [prefix | past tokens | current tokens], or a fast path:
    /// SDPA's own causal mask when nothing is padded, cached or prefixed; no mask for a single
    /// unpadded decoding step. A query sees the keys less than <paramref name="window"/> positions back, if given.
    /// </summary>
    private (Tensor? Mask, bool IsCausal) BuildMask(Tensor? tokenMask, int? window, int prefixLength, int seqPast, long t, long batch)
    {
        bool windowBinds = window is int w && seqPast + t > w;
        if (tokenMask is null && !windowBinds)
        {
            if (prefixLength == 0 && seqPast == 0) return (null, true);
            if (t == 1) return (null, false);
        }
        long keys = seqPast + t;
        using var zero = 0.ToScalar();
        using var queryStart = seqPast.ToScalar();
        using var end = keys.ToScalar(); // seqPast + t
        var queryPos = arange(queryStart, end, TensorArithmetic.One, ScalarType.Int64, Device).unsqueeze(1); // [T, 1]
        var keyPos = arange(zero, end, TensorArithmetic.One, ScalarType.Int64, Device).unsqueeze(0);         // [1, K]
        var allowed = keyPos <= queryPos;
        if (window is int span)
        {
            using var spanScalar = span.ToScalar();
            allowed = allowed & ((queryPos - keyPos) < spanScalar);
        }
        var mask = allowed.unsqueeze(0).unsqueeze(0).expand(batch, 1, t, keys);
        if (tokenMask is not null)
        {
            // Keys must be real and, in a packed row, of the query's own sequence (a padded query is let through; see below).
            var keySegment = tokenMask.to(ScalarType.Int64).unsqueeze(1).unsqueeze(1);   // [B, 1, 1, K]
            var querySegment = keySegment[.., .., .., ^(int)t..].transpose(-1, -2);        // [B, 1, T, 1]
            mask = mask & (keySegment != zero) & ((keySegment == querySegment) | (querySegment == zero));
        }
        // A padded query row would otherwise attend to nothing and produce NaN: let it see itself.
        mask = mask | (keyPos == queryPos).unsqueeze(0).unsqueeze(0);
        if (prefixLength > 0)
            mask = cat([ones(batch, 1, t, prefixLength, ScalarType.Bool, Device), mask], -1);
        return (mask, false);
    }

    /// <summary>Moves the model to another device or dtype.</summary>
    public void MoveTo(Device device, ScalarType dtype)
    {
        this.to(device).to(dtype);
        Device = device;
        Dtype = dtype;
    }
}
