using PeftHost.Core.Training;
using static TorchSharp.torch;

namespace PeftHost.Tests.Training;

[Collection(TorchRngCollection.Name)]
public class GradientCheckpointingTests
{
    private static Dictionary<string, Tensor> Gradients(bool checkpointing, bool frozenEmbedding)
    {
        random.manual_seed(42);
        using var model = TrainingFixtures.Model(seed: 3);
        TrainingFixtures.AddDropout(model, "model.layers.0.mlp.up_proj", 0.3);
        TrainingFixtures.AddDropout(model, "model.layers.1.self_attn.v_proj", 0.3);
        var probe = TrainingFixtures.GradientProbe.Attach(model);
        var trainable = TrainingFixtures.All(model).Where(p => !frozenEmbedding || !p.Name.Contains("embed_tokens")).ToList();
        var options = new TrainingOptions { BatchSize = 3, GradientAccumulationSteps = 2, MaxSteps = 1, GradientCheckpointing = checkpointing, Shuffle = false };
        new Trainer(model, trainable, options).Train(TrainingFixtures.Ragged(6));
        Assert.False(model.GradientCheckpointing); // restored after the run
        return probe.Gradients.Single();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Recomputed_layers_give_the_same_gradients_with_dropout_active(bool frozenEmbedding)
    {
        var plain = Gradients(checkpointing: false, frozenEmbedding);
        var recomputed = Gradients(checkpointing: true, frozenEmbedding);
        Assert.Equal(plain.Keys.Order(), recomputed.Keys.Order());
        Assert.Contains(plain.Keys, k => k.StartsWith("model.layers.0."));
        Assert.True(TrainingFixtures.MaxDifference(plain, recomputed) < 1e-6);
        Assert.True(plain["model.layers.0.self_attn.q_proj.weight"].abs().max().item<float>() > 0);
    }

    [Fact]
    public void Checkpointing_is_skipped_without_gradients()
    {
        using var model = TrainingFixtures.Model();
        model.GradientCheckpointing = true;
        using var ids = tensor(new long[] { 1, 5, 6, 7 }, [1, 4]);
        Tensor a, b;
        using (no_grad()) a = model.Forward(ids);
        model.GradientCheckpointing = false;
        using (no_grad()) b = model.Forward(ids);
        Assert.Equal(0f, (a - b).abs().max().item<float>());
    }
}
