using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Plugins.PromptTuning;
using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using PeftHost.Tests.Recipes;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Families;

/// <summary>
/// Every method on every family through the recipe API (<c>peft run</c>): a few training steps on the family's tiny
/// random model lower the loss, the adapter is saved in PEFT's layout (the tensors PEFT names, with the shapes PEFT
/// gives them for the family's key/value heads and head_dim), and the saved adapter loaded onto a freshly loaded base
/// scores exactly as the trained model did.
/// </summary>
public sealed class FamilyMethodTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var family in FamilyModels.Configs.Keys)
            foreach (var method in Methods)
                data.Add(family, method);
        return data;
    }

    private static readonly string[] Methods = ["lora", "dora", "adalora", "ia3", "prefix_tuning", "prompt_tuning", "p_tuning", "qlora"];

    private const int Steps = 12;

    /// <summary>The recipe's PEFT config for <paramref name="method"/>, with target modules only where PEFT has no default for the family.</summary>
    private static JsonObject MethodConfig(string family, string method)
    {
        var config = method switch
        {
            "lora" or "qlora" => new JsonObject { ["method"] = "lora", ["r"] = 4, ["loraAlpha"] = 8 },
            "dora" => new JsonObject { ["method"] = "lora", ["r"] = 4, ["loraAlpha"] = 8, ["useDora"] = true },
            "adalora" => new JsonObject
            {
                ["method"] = "adalora", ["initR"] = 4, ["targetR"] = 2, ["loraAlpha"] = 8,
                ["totalStep"] = Steps, ["tinit"] = 2, ["tfinal"] = 2, ["deltaT"] = 2,
            },
            "ia3" => new JsonObject { ["method"] = "ia3" },
            "prefix_tuning" => new JsonObject { ["method"] = "prefix_tuning", ["numVirtualTokens"] = 4 },
            "prompt_tuning" => new JsonObject { ["method"] = "prompt_tuning", ["numVirtualTokens"] = 4 },
            "p_tuning" => new JsonObject { ["method"] = "p_tuning", ["numVirtualTokens"] = 4, ["encoderHiddenSize"] = 32 },
            _ => throw new ArgumentOutOfRangeException(nameof(method)),
        };
        if (ExplicitTargets(family, method) is { } targets)
        {
            config["targetModules"] = new JsonArray(targets.Select(n => (JsonNode)n).ToArray());
            if (method == "ia3") config["feedforwardModules"] = new JsonArray("down_proj");
        }
        return config;
    }

    /// <summary>PEFT's table of default targets for a tuner method (null for the prompt-learning methods).</summary>
    private static IReadOnlyDictionary<string, IReadOnlyList<string>>? DefaultTargets(string method) => method switch
    {
        "lora" or "dora" or "qlora" => PeftTargetDefaults.Lora,
        "adalora" => PeftTargetDefaults.AdaLora,
        "ia3" => PeftTargetDefaults.IA3,
        _ => null,
    };

    /// <summary>
    /// The targets the recipe names where PEFT's table has no entry for the family (it would refuse the config):
    /// Phi-3's fused layers (qkv_proj and, for IA³, down_proj as the feed-forward module), q/v for AdaLoRA on Mistral.
    /// </summary>
    private static string[]? ExplicitTargets(string family, string method)
    {
        var table = DefaultTargets(method);
        string modelType = FamilyModels.Config(family).ModelType;
        if (table is null || table.ContainsKey(modelType)) return null;
        if (family == "phi3") return method == "ia3" ? ["qkv_proj", "down_proj"] : ["qkv_proj", "gate_up_proj"];
        return ["q_proj", "v_proj"];
    }

    /// <summary>
    /// Learning rates that move each method visibly in a few steps: AdaLoRA's singular values start at zero between
    /// small random factors, IA³'s vectors and the virtual tokens scale or add to whole activations.
    /// </summary>
    private static double LearningRate(string method) => method switch
    {
        "lora" or "dora" or "qlora" => 1e-2,
        _ => 5e-2,
    };

    private static readonly string[] Texts =
    [
        "Once upon a time, there was a little girl named Lily. She loved to play outside.",
        "The cat sat on the mat and looked at the big red ball in the garden.",
        "Tom had a small dog. The dog liked to run and jump in the park every day.",
        "One day, the sun was hot and the children went to the lake to swim.",
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Method_trains_saves_in_peft_layout_and_reloads_with_the_same_scores(string family, string method)
    {
        using var harness = new RecipeHarness();
        using (var model = FamilyModels.Random(family)) FamilyModels.SaveFolder(model, Path.Combine(harness.Folder, "model"));

        string quantize = method == "qlora"
            ? """m => prepareModelForKbitTraining(quantize(m, "nf4", { doubleQuant: true, blockSize: 32, computeDtype: "float32" }), { useGradientCheckpointing: false })"""
            : "m => m";
        var run = harness.RunOk($$"""
            import { loadModel, quantize, prepareModelForKbitTraining, getPeftModel, loadDataset, train, evaluate, saveAdapter, loadAdapter, setSeed, log } from "peft";
            setSeed(5);
            const base = {{quantize}};
            const data = loadDataset({{JsonSerializer.Serialize(Texts)}}, { format: "text", maxLength: 24 });
            const model = getPeftModel(base(loadModel("./model")), {{MethodConfig(family, method).ToJsonString()}});
            const before = evaluate(model, data).loss;
            train(model, data, { maxSteps: {{Steps}}, learningRate: {{LearningRate(method)}}, batchSize: 4, logEvery: {{Steps}} });
            const after = evaluate(model, data).loss;
            const dir = saveAdapter(model, "adapter");
            const reloaded = evaluate(loadAdapter(base(loadModel("./model")), dir), data).loss;
            log(JSON.stringify({ before, after, reloaded }));
            """);
        var scores = JsonNode.Parse(run.Out.Trim().Split('\n')[^1])!;
        double before = scores["before"]!.GetValue<double>(), after = scores["after"]!.GetValue<double>(), reloaded = scores["reloaded"]!.GetValue<double>();
        Assert.True(after < before - 2e-3, $"{family} {method}: loss {before:F4} → {after:F4}");
        // AdaLoRA saves its factors pruned to the ranks it kept (rank_pattern), as PEFT does: the same product,
        // summed over fewer (zero) terms, so equal to rounding; every other method reloads bit for bit.
        Assert.Equal(after, reloaded, method == "adalora" ? 1e-6 : 0);

        string adapter = Path.Combine(harness.Output, "adapter");
        var config = AdapterFiles.ReadConfig(adapter);
        var state = AdapterFiles.ReadState(adapter);
        try
        {
            AssertPeftLayout(family, method, config, state.ToDictionary(kv => kv.Key, kv => kv.Value.shape));
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Prompt tuning initialised from a text holds the text's embeddings as the model's word-embedding module returns
    /// them (PEFT's <c>word_embeddings(ids)</c>: Gemma 3's lookup scales by √hidden, Gemma 2's does not, since Gemma 2
    /// scales the model's whole input instead), saved so; and in either case the prompted model scores an input exactly
    /// as the plain model scores the text followed by that input.
    /// </summary>
    [Theory]
    [InlineData("llama3", false)]
    [InlineData("gemma2", false)]
    [InlineData("gemma3_text", true)]
    public void Text_initialised_prompt_is_saved_as_peft_saves_it_and_scores_as_the_text(string family, bool scaledLookup)
    {
        const string text = "Once upon a time";
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k);
        var textIds = tokenizer.Encode(text, addBos: false).Select(i => (long)i).ToArray();
        long[] input = [300, 41, 77, 12, 256, 9];
        using var dir = new TempDir();
        using var model = FamilyModels.Random(family);
        using var plain = FamilyModels.Random(family);
        var peft = new PeftModel(model, new StaticMethodCatalog(new PromptTuningMethod()), tokenizer: tokenizer);
        peft.AddAdapter("prompt_tuning", new JsonObject
        {
            ["numVirtualTokens"] = textIds.Length, ["promptTuningInit"] = "TEXT", ["promptTuningInitText"] = text,
        });
        peft.SaveAdapter(dir.Path);

        using var _ = no_grad();
        using var prompted = model.Forward(tensor(input).unsqueeze(0));
        using var whole = plain.Forward(tensor(textIds.Concat(input).ToArray()).unsqueeze(0));
        double diff = (prompted[0] - whole[0, textIds.Length..]).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"{family}: the prompted input's logits differ from the text + input's by {diff:E2}");

        var state = AdapterFiles.ReadState(dir.Path);
        using var saved = state["prompt_embeddings"];
        using var rows = plain.Model.EmbeddingWeight.index_select(0, tensor(textIds)) * (scaledLookup ? Math.Sqrt(plain.Config.HiddenSize) : 1);
        Assert.True(saved.allclose(rows, rtol: 1e-6, atol: 1e-6), $"{family}: prompt_embeddings are not word_embeddings(ids) as PEFT saves them");
    }

    /// <summary>The adapter's config and tensors as PEFT writes them for this family and method.</summary>
    private static void AssertPeftLayout(string family, string method, JsonObject config, Dictionary<string, long[]> shapes)
    {
        var model = FamilyModels.Config(family);
        string peftType = method switch
        {
            "lora" or "dora" or "qlora" => "LORA",
            "adalora" => "ADALORA",
            "ia3" => "IA3",
            "prefix_tuning" => "PREFIX_TUNING",
            "prompt_tuning" => "PROMPT_TUNING",
            _ => "P_TUNING",
        };
        Assert.Equal(peftType, config["peft_type"]!.GetValue<string>());
        if (method is "prefix_tuning" or "prompt_tuning" or "p_tuning")
        {
            // PEFT's one tensor: the virtual tokens' embeddings, or for prefix tuning every layer's keys and values
            // with the model's key/value heads × head_dim (num_attention_heads and token_dim saved accordingly).
            bool prefix = method == "prefix_tuning";
            int tokenDim = prefix ? model.NumKeyValueHeads * model.HeadDim : model.HiddenSize;
            Assert.Equal(tokenDim, config["token_dim"]!.GetValue<int>());
            Assert.Equal(prefix ? model.NumKeyValueHeads : model.NumAttentionHeads, config["num_attention_heads"]!.GetValue<int>());
            Assert.Equal(["prompt_embeddings"], shapes.Keys);
            Assert.Equal([4L, prefix ? model.NumHiddenLayers * 2L * tokenDim : tokenDim], shapes["prompt_embeddings"]);
            return;
        }
        // Tuner methods: keys base_model.model.<module path>.<tensor>, one set per adapted module of every layer.
        var targets = ExplicitTargets(family, method) ?? DefaultTargets(method)![model.ModelType].ToArray();
        Assert.Equal(targets.Order(), ((JsonArray)config["target_modules"]!).Select(n => n!.GetValue<string>()).Order());
        string[] tensors = method switch
        {
            "ia3" => ["ia3_l"],
            "adalora" => ["lora_A", "lora_B", "lora_E"],
            "dora" => ["lora_A.weight", "lora_B.weight", "lora_magnitude_vector"],
            _ => ["lora_A.weight", "lora_B.weight"],
        };
        var expected = from layer in Enumerable.Range(0, model.NumHiddenLayers)
                       from target in targets
                       from tensor in tensors
                       select $"base_model.model.model.layers.{layer}.{(target is "gate_proj" or "up_proj" or "down_proj" or "gate_up_proj" ? "mlp" : "self_attn")}.{target}.{tensor}";
        Assert.Equal(expected.Order(), shapes.Keys.Order());
    }
}
