using System.Diagnostics;
using PeftHost.Core.Runtime;
using PeftHost.Core.Training;

namespace PeftHost.Tests.Training;

[Collection(TorchRngCollection.Name)]
public class MemoryTests
{
    [Fact]
    public void Resident_memory_stays_flat_across_steps()
    {
        NativeRuntime.Initialize();
        using var model = TrainingFixtures.Model();
        var rss = new Dictionary<int, long>();
        var trainer = new Trainer(model, TrainingFixtures.All(model),
            new TrainingOptions { BatchSize = 2, GradientAccumulationSteps = 2, MaxSteps = 100, GradientCheckpointing = true, LogEvery = 1000 });
        trainer.StepBoundaryCallbacks.Add(b =>
        {
            if (b.Step % 10 != 0) return;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var self = Process.GetCurrentProcess();
            rss[b.Step] = self.WorkingSet64;
        });
        trainer.Train(TrainingFixtures.Packed(8));
        double growthMb = (rss[100] - rss[30]) / 1048576.0;
        Assert.True(growthMb < 8, $"resident memory grew {growthMb:F1} MB from step 30 to 100: {string.Join(", ", rss.Select(kv => $"{kv.Key}:{kv.Value / 1048576}MB"))}");
    }
}
