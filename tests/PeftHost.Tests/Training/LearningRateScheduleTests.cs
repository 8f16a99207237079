using PeftHost.Core.Training.Optimization;

namespace PeftHost.Tests.Training;

public class LearningRateScheduleTests
{
    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(5, 0.5)]
    [InlineData(10, 1.0)]
    [InlineData(55, 0.5)]
    [InlineData(100, 0.0)]
    public void Linear_warms_up_then_decays_to_zero(int step, double expected)
    {
        var s = new LearningRateSchedule(LearningRateScheduleKind.Linear, TotalSteps: 100, WarmupSteps: 10);
        Assert.Equal(expected, s.Factor(step), 12);
        // the formula at a step that is not a round number
        Assert.Equal((100 - 73) / 90.0, s.Factor(73), 12);
    }

    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(2, 0.5)]
    [InlineData(4, 1.0)]
    [InlineData(52, 0.5)]
    [InlineData(100, 0.0)]
    public void Cosine_follows_half_a_cosine_after_warmup(int step, double expected)
    {
        var s = new LearningRateSchedule(LearningRateScheduleKind.Cosine, TotalSteps: 100, WarmupSteps: 4);
        Assert.Equal(expected, s.Factor(step), 12);
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * (30 - 4) / 96.0)), s.Factor(30), 12);
    }

    [Fact]
    public void Constant_holds_the_peak_after_warmup()
    {
        var s = new LearningRateSchedule(LearningRateScheduleKind.Constant, TotalSteps: 50, WarmupSteps: 8);
        Assert.Equal(3 / 8.0, s.Factor(3), 12);
        Assert.Equal(1.0, s.Factor(8));
        Assert.Equal(1.0, s.Factor(49));
        Assert.Equal(2e-4, s.LearningRate(2e-4, 20), 15);
        var noWarmup = new LearningRateSchedule(LearningRateScheduleKind.Constant, 50, 0);
        Assert.Equal(1.0, noWarmup.Factor(0));
    }

    [Fact]
    public void Warmup_ratio_rounds_up()
    {
        Assert.Equal(11, LearningRateSchedule.WarmupFromRatio(0.1, 101));
        Assert.Equal(0, LearningRateSchedule.WarmupFromRatio(0, 101));
        var s = new LearningRateSchedule(LearningRateScheduleKind.Linear, 101, LearningRateSchedule.WarmupFromRatio(0.1, 101));
        Assert.Equal(5 / 11.0, s.Factor(5), 12);
    }
}
