using PeftHost.Core.Data;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Tests.Training;

[Collection(TorchRngCollection.Name)]
public class MaskedLossTests
{
    [Fact]
    public void Masked_prompt_positions_contribute_nothing_to_the_loss_or_its_gradient()
    {
        var shape = new InstructionShape(96, InstructionTemplate.Chat);
        var record = new DataRecord(new Dictionary<string, string?> { ["prompt"] = "Name a colour", ["response"] = "blue" }, "mem", 1);
        var example = shape.Tokenize([record], TrainingFixtures.Tokenizer).Single();
        using var model = TrainingFixtures.Model();
        using var batch = new BatchCollator(0, CPU).Collate([example]);
        var logits = model.Forward(batch.InputIds).detach().requires_grad_(true);

        var loss = LanguageModelLoss.Sum(logits, batch.Labels) / batch.PredictedTokens;
        loss.backward();
        // Positions t whose target label t+1 is −100 get no gradient at all.
        var maskedRows = Enumerable.Range(0, example.Length - 1).Where(t => example.Labels[t + 1] < 0).ToArray();
        var grad = logits.grad!;
        Assert.NotEmpty(maskedRows);
        foreach (int t in maskedRows) Assert.Equal(0f, grad[0, t].abs().max().item<float>());
        Assert.True(grad.abs().max().item<float>() > 0);

        // Rewriting the model's predictions at masked positions leaves the loss unchanged …
        using var noise = randn(logits.shape) * 50;
        var keep = tensor(Enumerable.Range(0, example.Length).Select(t => t < example.Length - 1 && example.Labels[t + 1] < 0 ? 1f : 0f).ToArray()).reshape(1, -1, 1);
        var scrambled = logits.detach() + noise * keep;
        var again = LanguageModelLoss.Sum(scrambled, batch.Labels) / batch.PredictedTokens;
        Assert.Equal(loss.item<float>(), again.item<float>(), 5);

        // … and the loss is the mean NLL of the response tokens ("blue" + EOS) alone.
        var logProbs = F.log_softmax(logits.detach()[0], -1);
        int first = Array.FindIndex(example.Labels, l => l >= 0);
        double manual = -Enumerable.Range(first, example.Length - first).Average(t => logProbs[t - 1, example.Labels[t]].item<float>());
        Assert.Equal(5, batch.PredictedTokens);
        Assert.Equal(manual, loss.item<float>(), 4);
    }
}
