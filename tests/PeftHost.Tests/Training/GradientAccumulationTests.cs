using PeftHost.Core.Data;
using PeftHost.Core.Training;
using PeftHost.Core.Training.Optimization;

namespace PeftHost.Tests.Training;

public class GradientAccumulationTests
{
    private static (Dictionary<string, TorchSharp.torch.Tensor> Params, double Loss) OneStep(TokenizedDataset data, int batch, int accumulation)
    {
        using var model = TrainingFixtures.Model(seed: 11);
        var options = new TrainingOptions
        {
            BatchSize = batch,
            GradientAccumulationSteps = accumulation,
            MaxSteps = 1,
            LearningRate = 1e-2,
            WeightDecay = 0.01,
            Schedule = LearningRateScheduleKind.Constant,
            MaxGradNorm = 0.5,
            Shuffle = false,
        };
        var result = new Trainer(model, TrainingFixtures.All(model), options).Train(data);
        return (TrainingFixtures.Snapshot(model), result.Losses.Single());
    }

    [Fact]
    public void Four_micro_batches_equal_one_batch_four_times_larger()
    {
        var data = TrainingFixtures.Packed(8);
        var big = OneStep(data, batch: 8, accumulation: 1);
        var small = OneStep(data, batch: 2, accumulation: 4);
        Assert.True(TrainingFixtures.MaxDifference(big.Params, small.Params) < 1e-6);
        Assert.Equal(big.Loss, small.Loss, 5);
    }

    [Fact]
    public void Accumulated_gradients_equal_the_large_batch_gradient_for_padded_batches_of_unequal_token_counts()
    {
        var data = TrainingFixtures.Ragged(6);
        Assert.True(data.Select(e => e.Length).Distinct().Count() > 2);
        Dictionary<string, TorchSharp.torch.Tensor> Gradient(int batch, int accumulation)
        {
            using var model = TrainingFixtures.Model(seed: 11);
            var probe = TrainingFixtures.GradientProbe.Attach(model);
            var options = new TrainingOptions { BatchSize = batch, GradientAccumulationSteps = accumulation, MaxSteps = 1, Shuffle = false };
            new Trainer(model, TrainingFixtures.All(model), options).Train(data);
            Assert.Equal(["after_backward:0/1", "before_step:0", "after_step:0"], probe.Calls);
            return probe.Gradients.Single();
        }
        var big = Gradient(6, 1);
        Assert.True(TrainingFixtures.MaxDifference(big, Gradient(2, 3)) < 1e-6);
        Assert.True(TrainingFixtures.MaxDifference(big, Gradient(1, 6)) < 1e-6);
        Assert.True(big.Values.Max(g => g.abs().max().item<float>()) > 1e-3); // the gradients are not trivially zero
    }
}
