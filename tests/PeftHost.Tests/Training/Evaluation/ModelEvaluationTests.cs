using PeftHost.Core.Data;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Optimization;
using PeftHost.Tests.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Tests.Training.Evaluation;

public class ModelEvaluationTests
{
    private static readonly ByteTokenizer Tok = TrainingFixtures.Tokenizer;

    private static DataRecord Rec(int line, params (string, string)[] fields) =>
        new(fields.ToDictionary(f => f.Item1, f => (string?)f.Item2), "mem.jsonl", line);

    private static readonly ClassificationShape Shape = new(64, new PromptTemplate("{text}\nAnswer:"))
    {
        LabelWords = new Dictionary<string, string> { ["spam"] = "spam", ["ham"] = "ham" },
    };

    private static List<DataRecord> Mail(int count) => Enumerable.Range(0, count).Select(i => i % 2 == 0
        ? Rec(i + 1, ("text", $"WIN CASH {i % 3} NOW"), ("label", "spam"))
        : Rec(i + 1, ("text", $"meeting notes {i % 3}"), ("label", "ham"))).ToList();

    [Fact]
    public void Label_scoring_picks_the_label_with_the_highest_log_likelihood()
    {
        using var model = TrainingFixtures.Model(seed: 9);
        var examples = Shape.Examples(Mail(6), Tok);
        var evaluator = new ClassificationEvaluator(examples, Shape, Tok, ["spam", "ham"], positiveLabel: "spam") { BatchSize = 3 };
        var report = evaluator.Run(model);

        foreach (var prediction in report.Predictions)
        {
            // Independent scoring: one forward pass per candidate, summing the label word's log-probabilities.
            double Score(string label)
            {
                var (ids, promptLength) = PromptCompletion.Tokenize(Tok, prediction.Example.Prompt, " " + label, eos: null);
                using var input = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]);
                using var logProbs = F.log_softmax(model.Forward(input)[0].detach(), -1);
                return Enumerable.Range(promptLength, ids.Length - promptLength).Sum(t => (double)logProbs[t - 1, ids[t]].item<float>());
            }
            double spam = Score("spam"), ham = Score("ham");
            Assert.Equal(spam, prediction.Scores[0], 4);
            Assert.Equal(ham, prediction.Scores[1], 4);
            Assert.Equal(spam > ham ? "spam" : "ham", prediction.Predicted);
        }
        Assert.Equal(6, report.Matrix.Total);
        Assert.Equal(report.Matrix.Accuracy, report.Metrics["eval_accuracy"]);
        // The gold label words' loss comes from the same pass and equals the dataset loss.
        var gold = DatasetLoss.Evaluate(model, new TokenizedDataset(Shape.Tokenize(Mail(6), Tok)));
        Assert.Equal(gold.Tokens, report.GoldLoss.Tokens);
        Assert.Equal(gold.Loss, report.GoldLoss.Loss, 4);
    }

    [Fact]
    public void Training_on_classification_data_raises_accuracy_reported_at_evaluation()
    {
        using var model = TrainingFixtures.Model(seed: 4);
        var records = Mail(24);
        var train = new TokenizedDataset(Shape.Tokenize(records, Tok), "mail");
        var heldOut = Shape.Examples(Mail(8), Tok);
        var evaluator = new ClassificationEvaluator(heldOut, Shape, Tok, ["spam", "ham"], "spam");
        double before = evaluator.Run(model).Matrix.Accuracy;

        var trainer = new Trainer(model, TrainingFixtures.All(model),
            new TrainingOptions { BatchSize = 8, MaxSteps = 40, LearningRate = 1e-2, Schedule = LearningRateScheduleKind.Constant, EvalEvery = 10 });
        trainer.Evaluators.Add(evaluator);
        var result = trainer.Train(train, new TokenizedDataset(Shape.Tokenize(Mail(8), Tok), "held out"));
        double after = result.Evaluations[^1].Metrics["eval_accuracy"];
        Assert.True(after == 1.0, string.Join("; ", result.Evaluations.Select(e => $"{e.Step}: acc {e.Metrics["eval_accuracy"]} loss {e.Metrics["eval_loss"]:F3}")) + $" train {result.Losses[0]:F3}->{result.Losses[^1]:F3}");
        Assert.Equal(1.0, after);
        Assert.True(result.Evaluations[^1].Metrics["eval_f1"] == 1.0);
        Assert.True(before < 1.0 || after == 1.0);
    }

    /// <summary>A stand-in adapter: adds a learned delta to a linear layer's output while enabled.</summary>
    private sealed class DeltaLinear : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> inner;
        private readonly Linear delta;

        public DeltaLinear(nn.Module<Tensor, Tensor> inner, long features) : base("delta")
        {
            this.inner = inner;
            delta = nn.Linear(features, features, hasBias: false);
            using (no_grad()) delta.weight!.normal_(0, 0.5);
            RegisterComponents();
        }

        public bool Enabled { get; set; } = true;

        public override Tensor forward(Tensor x) => Enabled ? inner.forward(x) + delta.forward(x) : inner.forward(x);
    }

    private sealed class Disable(DeltaLinear adapter) : IDisposable
    {
        private readonly bool _was = Set(adapter);

        private static bool Set(DeltaLinear a) { bool was = a.Enabled; a.Enabled = false; return was; }

        public void Dispose() => adapter.Enabled = _was;
    }

    [Fact]
    public void Retention_measures_perplexity_and_kl_against_the_base_model()
    {
        using var model = TrainingFixtures.Model(seed: 8);
        using var baseModel = TrainingFixtures.Model(seed: 8);
        var reference = Tok.Encode(string.Concat(Enumerable.Repeat("Call me Ishmael. Some years ago, never mind how long precisely. ", 6)), addBos: false);
        var surface = new ModelSurface(model);
        var adapter = new DeltaLinear((nn.Module<Tensor, Tensor>)surface.GetModule("model.layers.1.self_attn.o_proj"), 32);
        surface.ReplaceModule("model.layers.1.self_attn.o_proj", adapter);

        var r = Retention.Evaluate(model, reference, () => new Disable(adapter), window: 64);
        Assert.Equal(reference.Count / 64 * 63, r.Tokens);
        Assert.True(r.MeanKl > 1e-4, $"KL {r.MeanKl}");
        Assert.NotEqual(r.Loss, r.BaseLoss);
        Assert.True(adapter.Enabled); // the scope restored it

        // The base side equals a separate untouched model, and perplexity agrees with Perplexity.OfTokens.
        var twin = Retention.Evaluate(model, baseModel, reference, window: 64);
        Assert.Equal(r.MeanKl, twin.MeanKl, 5);
        Assert.Equal(r.BaseLoss, twin.BaseLoss, 5);
        double windowed = Enumerable.Range(0, reference.Count / 64).Average(w => Perplexity.OfTokens(baseModel, reference.Skip(w * 64).Take(64).ToArray()).Loss);
        Assert.Equal(windowed, r.BaseLoss, 4);

        adapter.Enabled = false;
        var unchanged = Retention.Evaluate(model, reference, () => new Disable(adapter), window: 64);
        Assert.Equal(0, unchanged.MeanKl, 6);
        Assert.Equal(unchanged.BaseLoss, unchanged.Loss, 6);
    }

    [Fact]
    public void Dataset_loss_is_token_weighted_over_the_whole_set()
    {
        using var model = TrainingFixtures.Model(seed: 2);
        var data = TrainingFixtures.Ragged(5);
        var batched = DatasetLoss.Evaluate(model, data, batchSize: 2);
        double sum = 0;
        long count = 0;
        foreach (var e in data)
        {
            var single = Perplexity.OfTokens(model, e.InputIds);
            sum += single.Loss * single.Tokens;
            count += single.Tokens;
        }
        Assert.Equal(count, batched.Tokens);
        Assert.Equal(sum / count, batched.Loss, 5);
    }
}
