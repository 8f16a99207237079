using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.PromptTuning;

/// <summary>
/// The prompt-tuning method (<c>prompt_tuning</c>, peft_type <c>PROMPT_TUNING</c>): num_virtual_tokens learned
/// embeddings prepended to the input, initialised RANDOM, from a TEXT or by SAMPLE_VOCAB, as PEFT's
/// <c>PromptEmbedding</c> does.
/// </summary>
public sealed class PromptTuningMethod : PromptLearningMethod<PromptTuningConfig>
{
    /// <summary>The name recipes and the CLI use.</summary>
    public const string MethodName = "prompt_tuning";

    /// <summary>PEFT's peft_type.</summary>
    public const string PromptTuningPeftType = "PROMPT_TUNING";

    /// <inheritdoc />
    public override string Name => MethodName;

    /// <inheritdoc />
    public override string PeftType => PromptTuningPeftType;

    /// <inheritdoc />
    public override string Description => "Prompt tuning: learned virtual token embeddings (init RANDOM, TEXT or SAMPLE_VOCAB)";

    /// <inheritdoc />
    protected override bool KeyValueTokens => false;

    /// <inheritdoc />
    /// <remarks>
    /// TEXT tokenizes <c>prompt_tuning_init_text</c> with the model's tokenizer (no BOS/EOS), cuts or repeats the ids
    /// to the number of virtual tokens, and copies their embeddings as the model's word-embedding module returns them
    /// (Gemma 3's is scaled by √hidden); SAMPLE_VOCAB copies the embeddings of ids drawn
    /// uniformly from the vocabulary. An inference-mode adapter (one being loaded) skips initialisation, as PEFT does.
    /// </remarks>
    protected override IAdapter CreateAdapter(IPeftModelSurface model, string adapterName, PromptTuningConfig prompt)
    {
        int total = prompt.TotalVirtualTokens;
        var encoder = new PromptEmbedding(total, prompt.TokenDim!.Value, model.Device, trainable: !prompt.InferenceMode);
        try
        {
            if (!prompt.InferenceMode && model.Device.type != DeviceType.META && prompt.PromptTuningInit != PromptTuningConfig.RandomInit)
            {
                long[] ids = prompt.PromptTuningInit == PromptTuningConfig.TextInit
                    ? TextInitIds(model, prompt.PromptTuningInitText!, total)
                    : SampleVocabIds(model.Dimensions.VocabSize, total);
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var table = WordEmbeddings(model);
                var index = tensor(ids, device: table.device);
                // PEFT copies word_embeddings(ids): rows times the lookup's own scale (Gemma 3's √hidden, in the table's dtype).
                var rows = table.index_select(0, index) * tensor(model.Dimensions.WordEmbeddingScale, table.dtype, table.device);
                encoder.LoadEmbeddings(rows.to(ScalarType.Float32));
            }
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
        return new PromptLearningAdapter(model, adapterName, prompt, encoder, MethodName);
    }

    /// <summary>
    /// PEFT's TEXT ids: the tokens of <paramref name="text"/>, cut to <paramref name="total"/>, or repeated
    /// ⌈total/n⌉ times and cut.
    /// </summary>
    public static long[] TextInitIds(IPeftModelSurface model, string text, int total)
    {
        var tokenizer = model.Tokenizer
            ?? throw new ConfigException("prompt_tuning_init TEXT needs the model's tokenizer, and none is loaded", "prompt_tuning_init");
        var ids = tokenizer.Encode(text);
        if (ids.Count == 0) throw new ConfigException($"prompt_tuning_init_text \"{text}\" has no tokens", "prompt_tuning_init_text");
        int reps = (total + ids.Count - 1) / ids.Count;
        return Enumerable.Repeat(ids, reps).SelectMany(x => x).Take(total).Select(i => (long)i).ToArray();
    }

    /// <summary>
    /// The word embedding table [vocab, hidden], found as PEFT finds it: the first model parameter whose first
    /// dimension is the vocabulary size.
    /// </summary>
    private static Tensor WordEmbeddings(IPeftModelSurface model)
    {
        var d = model.Dimensions;
        foreach (var (_, p) in model.Root.named_parameters())
            if (p.dim() == 2 && p.shape[0] == d.VocabSize && p.shape[1] == d.HiddenSize) return p.detach();
        throw new InvalidOperationException($"no [{d.VocabSize}, {d.HiddenSize}] word embedding table found in the model");
    }

    private static long[] SampleVocabIds(int vocab, int total)
    {
        using var ids = randint(0, vocab, [total], ScalarType.Int64);
        return ids.data<long>().ToArray();
    }
}
