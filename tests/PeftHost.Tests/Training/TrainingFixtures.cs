using PeftHost.Core.Data;
using PeftHost.Core.Models;
using PeftHost.Tests.Data;
using PeftHost.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Tests.Training;

/// <summary>Tiny models and datasets for trainer tests.</summary>
public static class TrainingFixtures
{
    public static readonly ByteTokenizer Tokenizer = new();

    /// <summary>A tiny random model whose vocabulary fits <see cref="ByteTokenizer"/>.</summary>
    public static CausalLanguageModel Model(long seed = 1) => TinyModels.Create(j =>
    {
        j["vocab_size"] = Tokenizer.VocabSize;
        j["pad_token_id"] = 0;
    }, seed);

    /// <summary>All parameters by name (full fine-tuning).</summary>
    public static List<(string Name, Parameter Parameter)> All(CausalLanguageModel model) =>
        model.named_parameters().Select(p => (p.name, p.parameter)).ToList();

    /// <summary>Repetitive sentences packed into blocks of <paramref name="blockSize"/> tokens.</summary>
    public static TokenizedDataset Packed(int blocks, int blockSize = 16)
    {
        var text = string.Join(" ", Enumerable.Range(0, blocks * blockSize / 8 + 8).Select(i => $"the cat {i % 7} sat."));
        var record = new DataRecord(new Dictionary<string, string?> { ["text"] = text }, "mem", 1);
        var examples = new CausalTextShape(blockSize).Tokenize([record], Tokenizer).Take(blocks).ToArray();
        Assert.Equal(blocks, examples.Length);
        return new TokenizedDataset(examples, "packed");
    }

    /// <summary>Sentences of different lengths, one sequence each (batches get padded).</summary>
    public static TokenizedDataset Ragged(int count)
    {
        var records = Enumerable.Range(0, count).Select(i => new DataRecord(
            new Dictionary<string, string?> { ["text"] = string.Concat(Enumerable.Repeat($"w{i % 5} ", 2 + i % 6)) }, "mem", i + 1));
        return new TokenizedDataset(new CausalTextShape(48, CausalLayout.TruncateAndPad).Tokenize(records, Tokenizer), "ragged");
    }

    /// <summary>Puts a dropout in front of the module at <paramref name="path"/> (the model itself has none).</summary>
    public static void AddDropout(CausalLanguageModel model, string path, double p)
    {
        var surface = new ModelSurface(model);
        var inner = (nn.Module<Tensor, Tensor>)surface.GetModule(path);
        surface.ReplaceModule(path, new DropoutBefore(inner, p));
    }

    /// <summary>Copies of every parameter, by name.</summary>
    public static Dictionary<string, Tensor> Snapshot(CausalLanguageModel model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    /// <summary>The largest absolute difference between two snapshots.</summary>
    public static double MaxDifference(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b) =>
        a.Keys.Max(k => (a[k] - b[k]).abs().max().item<float>());

    /// <summary>Training hooks that record the gradients seen after backward and count every call.</summary>
    public sealed class GradientProbe(CausalLanguageModel model) : PeftHost.Sdk.ITrainingHooks
    {
        public string AdapterName => "probe";
        public List<Dictionary<string, Tensor>> Gradients { get; } = [];
        public List<string> Calls { get; } = [];

        public void AfterBackward(PeftHost.Sdk.TrainingStepInfo step)
        {
            Calls.Add($"after_backward:{step.GlobalStep}/{step.TotalSteps}");
            Gradients.Add(model.named_parameters().Where(p => p.parameter.grad is not null)
                .ToDictionary(p => p.name, p => p.parameter.grad!.clone().DetachFromDisposeScope()));
        }

        public void BeforeOptimizerStep(PeftHost.Sdk.TrainingStepInfo step) => Calls.Add($"before_step:{step.GlobalStep}");

        public void AfterOptimizerStep(PeftHost.Sdk.TrainingStepInfo step) => Calls.Add($"after_step:{step.GlobalStep}");

        /// <summary>Registers the probe on <paramref name="model"/> and makes its adapter active.</summary>
        public static GradientProbe Attach(CausalLanguageModel model)
        {
            var probe = new GradientProbe(model);
            new ModelSurface(model).AddTrainingHooks(probe);
            model.Hooks.Routing.ActiveAdapters = [.. model.Hooks.Routing.ActiveAdapters, probe.AdapterName];
            return probe;
        }
    }

    private sealed class DropoutBefore : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> inner;
        private readonly double _p;

        public DropoutBefore(nn.Module<Tensor, Tensor> inner, double p) : base("dropout_before")
        {
            this.inner = inner;
            _p = p;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => inner.forward(F.dropout(x, _p, training));
    }
}

/// <summary>
/// Tests that depend on process-wide state run alone: torch's default generator (dropout,
/// replayed recomputation) would be drawn from by a test running in parallel, and resident
/// memory would include its allocations.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchRngCollection
{
    public const string Name = "process-wide torch state";
}
