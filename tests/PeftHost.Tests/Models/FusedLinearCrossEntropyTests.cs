using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Tests.Models;

/// <summary>The chunked loss equals cross-entropy over materialised logits, in value and gradients.</summary>
public class FusedLinearCrossEntropyTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Loss_and_gradients_equal_cross_entropy_over_full_logits_across_chunks(bool weightTrains)
    {
        // 40,000 words: 52 rows per chunk, so 150 rows take three chunks, the last one partial.
        const int rows = 150, hiddenSize = 24, vocab = 40_000;
        using var g = new Generator(3);
        using var hidden = randn([rows, hiddenSize], generator: g).requires_grad_(true);
        using var weight = (randn([vocab, hiddenSize], generator: g) * 0.3).requires_grad_(weightTrains);
        using var labels = randint(0, vocab, [rows], ScalarType.Int64, generator: g);
        labels[TensorIndex.Slice(10, 30)] = tensor(LanguageModelLoss.IgnoreIndex); // inside the first chunk
        labels[TensorIndex.Slice(50, 55)] = tensor(LanguageModelLoss.IgnoreIndex); // across the first chunk boundary (52)

        var fused = FusedLinearCrossEntropy.Sum(hidden, weight, labels);
        var gradOutput = tensor(0.37f);
        fused.backward([gradOutput]);
        var fusedHiddenGrad = hidden.grad!.clone();
        var fusedWeightGrad = weightTrains ? weight.grad!.clone() : null;
        hidden.grad!.zero_();
        if (weightTrains) weight.grad!.zero_();

        var reference = F.cross_entropy(F.linear(hidden, weight), labels, ignore_index: LanguageModelLoss.IgnoreIndex, reduction: nn.Reduction.Sum);
        reference.backward([gradOutput]);

        Assert.Equal(reference.item<float>(), fused.item<float>(), reference.item<float>() * 1e-5);
        TensorAssert.Close(hidden.grad!, fusedHiddenGrad, 1e-5);
        if (weightTrains) TensorAssert.Close(weight.grad!, fusedWeightGrad!, 1e-5);
        else Assert.Null(weight.grad);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Model_loss_without_logits_equals_loss_over_forward_logits(bool tied)
    {
        using var model = TinyModels.Create(c => c["tie_word_embeddings"] = tied);
        foreach (var p in model.parameters()) p.requires_grad_(p.dim() == 1 || tied); // norms train; the tied embedding too
        using var ids = TinyModels.Tokens(3, 20);
        var mask = ones(3, 20, ScalarType.Int64);
        mask[2, ..5] = tensor(0L); // left padding in the last row
        var labels = ids.clone();
        labels[2, ..5] = tensor(LanguageModelLoss.IgnoreIndex);

        var fused = model.NextTokenLossSum(ids, mask, labels);
        fused.backward();
        var fusedGrads = model.parameters().Where(p => p.requires_grad).Select(p => p.grad!.clone()).ToList();
        foreach (var p in model.parameters()) p.grad?.zero_();

        var reference = LanguageModelLoss.Sum(model.Forward(ids, mask), labels);
        reference.backward();
        var referenceGrads = model.parameters().Where(p => p.requires_grad).Select(p => p.grad!).ToList();

        Assert.Equal(reference.item<float>(), fused.item<float>(), reference.item<float>() * 1e-5);
        Assert.NotEmpty(referenceGrads);
        for (int i = 0; i < referenceGrads.Count; i++) TensorAssert.Close(referenceGrads[i], fusedGrads[i], 1e-4);
    }

    [Fact]
    public void Next_token_labels_shift_left_and_ignore_the_last_position()
    {
        using var labels = tensor(new long[] { 5, 6, 7, -100, 9, 10 }, [2, 3]);
        using var shifted = LanguageModelLoss.NextTokenLabels(labels);
        Assert.Equal(new long[] { 6, 7, -100, 9, 10, -100 }, shifted.data<long>().ToArray());
    }
}
