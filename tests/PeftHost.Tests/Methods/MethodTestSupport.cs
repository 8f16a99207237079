using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Plugins.AdaLora;
using PeftHost.Plugins.IA3;
using PeftHost.Plugins.PrefixTuning;
using PeftHost.Plugins.PromptTuning;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Methods;

/// <summary>Models, catalogs, a reference training loop and published configs shared by the method tests.</summary>
internal static class MethodTestSupport
{
    /// <summary>Every method of this work package.</summary>
    public static StaticMethodCatalog Catalog() =>
        new(new AdaLoraMethod(), new IA3Method(), new PrefixTuningMethod(), new PromptTuningMethod(), new PTuningMethod());

    /// <summary>Llama-2-7B's config (hidden 4096, intermediate 11008, 32 layers, 32 heads, vocab 32000).</summary>
    public static ModelConfig Llama2_7B() => ModelConfig.FromJson(new JsonObject
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["hidden_size"] = 4096,
        ["intermediate_size"] = 11008,
        ["num_hidden_layers"] = 32,
        ["num_attention_heads"] = 32,
        ["num_key_value_heads"] = 32,
        ["vocab_size"] = 32000,
        ["max_position_embeddings"] = 4096,
        ["rms_norm_eps"] = 1e-5,
        ["tie_word_embeddings"] = false,
        ["bos_token_id"] = 1,
        ["eos_token_id"] = 2,
    }, "Llama-2-7B config");

    /// <summary>Llama-2-7B's parameter count (PEFT's "all params" of the base model).</summary>
    public const long Llama2_7BParameters = 6_738_415_616;

    /// <summary>Llama-2-7B built on the meta device (shapes only), wrapped in a PEFT model.</summary>
    public static (CausalLanguageModel Model, PeftModel Peft) MetaLlama2_7B()
    {
        var model = ModelLoader.Build(Llama2_7B(), META, ScalarType.Float16, WeightInit.Empty);
        return (model, new PeftModel(model, Catalog()));
    }

    /// <summary>The tiny random model (hidden 32, 2 layers, 4 heads, 2 kv heads, intermediate 64, vocab 64) in a PEFT model.</summary>
    public static (CausalLanguageModel Model, PeftModel Peft) Tiny(long seed = 1)
    {
        var model = TinyModels.Create(seed: seed);
        return (model, new PeftModel(model, Catalog()));
    }

    /// <summary>The bundled stories260k model with its tokenizer, in a PEFT model.</summary>
    public static (CausalLanguageModel Model, PeftModel Peft, TextTokenizer Tokenizer) Stories()
    {
        var model = ModelLoader.Load(TestPaths.Stories260k);
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k);
        return (model, new PeftModel(model, Catalog(), tokenizer: tokenizer), tokenizer);
    }

    /// <summary>A short fixed story for the fine-tuning tests.</summary>
    public const string Story =
        "Once upon a time, there was a little girl named Lily. She loved to play with her red ball in the park. " +
        "One day, the ball rolled into the pond and Lily was sad. Her friend Tom came and helped her get the ball back.";

    /// <summary>Token ids [1, n] of <see cref="Story"/> with BOS.</summary>
    public static Tensor StoryIds(TextTokenizer tokenizer)
    {
        var ids = tokenizer.Encode(Story, addBos: true).Select(i => (long)i).ToArray();
        return tensor(ids, [1, ids.Length]);
    }

    /// <summary>Mean next-token loss of <paramref name="model"/> on <paramref name="ids"/> (no gradient).</summary>
    public static double Loss(CausalLanguageModel model, Tensor ids)
    {
        using var _ = no_grad();
        using var logits = model.Forward(ids);
        using var loss = LanguageModelLoss.Compute(logits, ids);
        return loss.item<float>();
    }

    /// <summary>
    /// A plain AdamW loop over the PEFT model's trainable parameters: forward, loss (+ the adapters' loss terms),
    /// backward, step, the adapters' after-step hooks (AdaLoRA's allocation), zero grad. Returns the losses per step.
    /// </summary>
    public static List<double> Train(PeftModel peft, Tensor ids, int steps, double lr, Action<int>? afterStep = null)
    {
        var model = peft.Base;
        var parameters = peft.TrainableParameters().Select(p => p.Parameter).ToList();
        Assert.NotEmpty(parameters);
        using var optimizer = optim.AdamW(parameters, lr, weight_decay: 0.0);
        var losses = new List<double>();
        model.train();
        try
        {
            for (int step = 0; step < steps; step++)
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                var logits = model.Forward(ids);
                var loss = LanguageModelLoss.Compute(logits, ids);
                losses.Add(loss.item<float>());
                foreach (var term in model.Hooks.ActiveLossTerms())
                    if (term.Compute() is { } extra) loss = loss + extra;
                loss.backward();
                optimizer.step();
                foreach (var hooks in model.Hooks.ActiveTrainingHooks()) hooks.AfterOptimizerStep(new TrainingStepInfo(step, steps));
                afterStep?.Invoke(step);
            }
        }
        finally
        {
            model.eval();
        }
        return losses;
    }

    /// <summary>Logits of <paramref name="model"/> on <paramref name="ids"/> (no gradient).</summary>
    public static Tensor Logits(CausalLanguageModel model, Tensor ids)
    {
        using var _ = no_grad();
        return model.Forward(ids);
    }

    /// <summary>max |a − b|.</summary>
    public static double MaxDiff(Tensor a, Tensor b)
    {
        using var d = (a.to(ScalarType.Float32) - b.to(ScalarType.Float32)).abs().max();
        return d.item<float>();
    }

    /// <summary>Options object from pairs.</summary>
    public static JsonObject Options(params (string Key, JsonNode? Value)[] pairs)
    {
        var o = new JsonObject();
        foreach (var (k, v) in pairs) o[k] = v;
        return o;
    }

    /// <summary>Reads a saved adapter_config.json.</summary>
    public static JsonObject ReadConfig(string dir) => AdapterFiles.ReadConfig(dir);

    /// <summary>Reads a saved adapter's tensors; the caller disposes them.</summary>
    public static Dictionary<string, Tensor> ReadState(string dir) => AdapterFiles.ReadState(dir);
}
