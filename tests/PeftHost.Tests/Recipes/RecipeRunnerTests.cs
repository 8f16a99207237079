using PeftHost.Core.Peft;
using PeftHost.Core.Quantization;
using PeftHost.Core.Recipes;
using PeftHost.Core.Telemetry;
using PeftHost.Sdk;
using PeftHost.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Tests.Recipes;

/// <summary>The runner driven directly with a host context of the test's own: quantizers, PEFT-model tracking, events.</summary>
public sealed class RecipeRunnerTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private (RecipeResult Result, List<string> Lines) Run(string source, RecipeHostContext? host = null)
    {
        var events = host?.Events ?? new EventBus();
        var lines = new List<string>();
        using var _ = events.Subscribe<LogEvent>(e => { lock (lines) lines.Add(e.Message); });
        var options = new RecipeRunOptions { RecipePath = _h.Write("recipe.js", source), OutputFolder = _h.Output, Workspace = TestPaths.RepoRoot };
        var result = new RecipeRunner().Run(options, host ?? new RecipeHostContext { Methods = new StaticMethodCatalog(), Events = events });
        return (result, lines);
    }

    [Fact]
    public void Quantize_replaces_the_decoder_projections_with_the_plugins_layers()
    {
        var quantizer = new CopyQuantizer();
        var events = new EventBus();
        var host = new RecipeHostContext
        {
            Methods = new StaticMethodCatalog(),
            Quantizers = new QuantizerRegistry([quantizer]),
            Events = events,
        };
        var (result, lines) = Run("""
            import { loadModel, quantize, generate, log } from "peft";
            const model = loadModel("models/stories260k");
            const before = generate(model, "Once upon a time", { maxNewTokens: 12 });
            quantize(model, "copy8", { blockSize: 32, doubleQuant: false });
            log("same:", generate(model, "Once upon a time", { maxNewTokens: 12 }) === before);
            """, host);
        Assert.True(result.Outcome == RecipeOutcome.Succeeded, result.Failure?.ToString());
        Assert.Contains("quantized 35 linear layers to copy8", lines); // 5 layers × (q, k, v, o, gate, up, down)
        Assert.Contains("same: true", lines);
        Assert.Equal(35, quantizer.Quantized);
        Assert.Equal(new QuantizationOptions(32, false, ScalarType.Float32), quantizer.LastOptions);
    }

    [Fact]
    public void Saving_a_model_quantized_in_a_format_bitsandbytes_cannot_store_is_refused_before_writing()
    {
        var quantizer = new CopyQuantizer();
        var host = new RecipeHostContext { Methods = new StaticMethodCatalog(), Quantizers = new QuantizerRegistry([quantizer]) };
        var (result, _) = Run("""
            import { loadModel, quantize, saveModel } from "peft";
            const model = quantize(loadModel("models/stories260k"), "copy8", { doubleQuant: false });
            saveModel(model, "copy8");
            """, host);
        Assert.Equal(RecipeOutcome.Failed, result.Outcome);
        Assert.Contains("layer 'model.layers.0.self_attn.q_proj' (and 34 more) is quantized in a format bitsandbytes cannot store", result.Failure!.Message);
        Assert.False(Directory.Exists(Path.Combine(_h.Output, "copy8")));
    }

    [Fact]
    public void A_misspelled_quantizer_gets_a_did_you_mean()
    {
        var host = new RecipeHostContext { Methods = new StaticMethodCatalog(), Quantizers = new QuantizerRegistry([new CopyQuantizer("nf4"), new CopyQuantizer("fp4")]) };
        var (result, _) = Run("""
            import { loadModel, quantize } from "peft";
            quantize(loadModel("models/stories260k"), "nf5");
            """, host);
        Assert.Equal(RecipeOutcome.Failed, result.Outcome);
        Assert.Contains("unknown quantizer 'nf5'; did you mean 'nf4'? Available: fp4, nf4", result.Failure!.Message);
        Assert.Equal(2, result.Failure.Line);
    }

    [Fact]
    public void Peft_models_are_handed_to_the_host_for_hot_reload_and_released_at_the_end()
    {
        var tracked = new List<PeftModel>();
        int released = 0;
        var host = new RecipeHostContext
        {
            Methods = new StaticMethodCatalog(new PeftHost.Plugins.Lora.LoraMethod()),
            TrackPeftModel = peft => { tracked.Add(peft); return new Release(() => released++); },
        };
        var (result, _) = Run("""
            import { loadModel, getPeftModel, addAdapter } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, targetModules: ["q_proj"] });
            addAdapter(model, "second", { method: "lora", r: 4, targetModules: ["v_proj"] });
            """, host);
        Assert.True(result.Outcome == RecipeOutcome.Succeeded, result.Failure?.ToString());
        Assert.Single(tracked);
        Assert.Equal(["default", "second"], tracked[0].Adapters.Select(a => a.Name));
        Assert.Equal(1, released);
    }

    [Fact]
    public void The_result_lists_the_recipe_exports()
    {
        var (result, _) = Run("""
            export const a = 1;
            export function b() {}
            """);
        Assert.Equal(RecipeOutcome.Succeeded, result.Outcome);
        Assert.Equal(["a", "b"], result.Exports.Order());
    }

    private sealed class Release(Action action) : IDisposable
    {
        public void Dispose() => action();
    }

    /// <summary>A stand-in quantizer plugin: it keeps the weight as it is (no precision lost), in the bitsandbytes-style container.</summary>
    private sealed class CopyQuantizer(string name = "copy8") : IQuantizer
    {
        public int Quantized;
        public QuantizationOptions? LastOptions;

        public string Name => name;

        public string Description => "test quantizer: keeps the weights as they are";

        public QuantizedTensor Quantize(Tensor weight, QuantizationOptions options)
        {
            Quantized++;
            LastOptions = options;
            var state = new Dictionary<string, Tensor> { ["absmax"] = weight.detach().clone() };
            return new QuantizedTensor("copy8", weight.shape, weight.dtype, zeros(weight.numel(), ScalarType.Byte), state, new());
        }

        public Tensor Dequantize(QuantizedTensor quantized, ScalarType dtype) => quantized.State["absmax"].to(dtype, copy: true);

        public nn.Module CreateLinear(QuantizedTensor weight, Tensor? bias, ScalarType computeDtype) => new CopyLinear(this, weight, bias, computeDtype);
    }

    private sealed class CopyLinear : nn.Module<Tensor, Tensor>, ILinearLayer
    {
        private readonly CopyQuantizer _quantizer;
        private QuantizedTensor _weight;
        private readonly ScalarType _dtype;

        public CopyLinear(CopyQuantizer quantizer, QuantizedTensor weight, Tensor? bias, ScalarType dtype) : base("CopyLinear")
        {
            _quantizer = quantizer;
            _weight = weight;
            Bias = bias;
            _dtype = dtype;
        }

        public long InFeatures => _weight.Shape[1];

        public long OutFeatures => _weight.Shape[0];

        public Tensor? Bias { get; }

        public Tensor ReadWeight(ScalarType dtype) => _quantizer.Dequantize(_weight, dtype);

        public void WriteWeight(Tensor weight) => _weight = _quantizer.Quantize(weight, _quantizer.LastOptions!);

        public override Tensor forward(Tensor input)
        {
            using var w = ReadWeight(_dtype);
            return nn.functional.linear(input.to(_dtype), w, Bias);
        }
    }
}
