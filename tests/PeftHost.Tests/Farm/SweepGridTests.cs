using PeftHost.Farm;

namespace PeftHost.Tests.Farm;

/// <summary><c>--grid</c> parsing, the combinations and job names, and <c>--cluster</c> addresses and keys.</summary>
public sealed class SweepGridTests
{
    [Fact]
    public void Grids_multiply_with_the_first_varying_slowest_and_name_each_job()
    {
        var grid = new SweepGrid(["r=4,8", "learningRate=1e-3, 3e-3"]);
        Assert.Equal(["r", "learningRate"], grid.Keys);
        var jobs = grid.Combinations();
        Assert.Equal(
            [["r=4", "learningRate=1e-3"], ["r=4", "learningRate=3e-3"], ["r=8", "learningRate=1e-3"], ["r=8", "learningRate=3e-3"]],
            jobs.Select(j => j.ToArray()).ToArray());
        Assert.Equal("r=4_learningRate=1e-3", SweepGrid.JobName(jobs[0]));
        Assert.Equal("model=models-tiny", SweepGrid.JobName(["model=models/tiny"]));
        Assert.Equal([[]], new SweepGrid([]).Combinations().Select(j => j.ToArray()).ToArray());
    }

    [Theory]
    [InlineData("r", "expects key=v1,v2")]
    [InlineData("=4", "expects key=v1,v2")]
    [InlineData("r=4,,8", "an empty value")]
    [InlineData("r=4,4", "a value is repeated")]
    public void A_malformed_grid_is_refused_saying_what_is_wrong(string grid, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => new SweepGrid([grid])).Message);

    [Fact]
    public void A_key_given_in_two_grids_is_refused() =>
        Assert.Contains("--grid r is given twice", Assert.Throws<ArgumentException>(() => new SweepGrid(["r=4", "r=8"])).Message);

    [Fact]
    public void Cluster_addresses_are_redis_urls_and_keys_name_the_cluster()
    {
        var a = ClusterAddress.Parse("redis://:s3cret@10.0.0.5:6380");
        Assert.Equal(("10.0.0.5", 6380, "s3cret"), (a.Host, a.Port, a.Password));
        Assert.Equal("10.0.0.5:6380,password=s3cret", a.ConnectionString);
        Assert.Equal("127.0.0.1:6379", ClusterAddress.Parse("redis://127.0.0.1:6379").ConnectionString);
        Assert.Throws<ArgumentException>(() => ClusterAddress.Parse("http://127.0.0.1:6379"));
        Assert.Throws<ArgumentException>(() => ClusterAddress.Parse("redis://127.0.0.1:6379/2"));

        string id = ClusterAddress.ClusterIdFor("0123456789abcdef");
        Assert.Matches("^peft-[0-9a-f]{16}$", id);
        Assert.Equal(id, ClusterAddress.ClusterIdFor("0123456789abcdef"));
        Assert.NotEqual(id, ClusterAddress.ClusterIdFor("0123456789abcdeF"));
        Assert.Contains("at least 16 characters", Assert.Throws<ArgumentException>(() => ClusterAddress.ClusterIdFor("short")).Message);
    }

    [Theory]
    [InlineData("lora/loss", false)]
    [InlineData("eval_loss", false)]
    [InlineData("Moby-Dick ppl", false)]
    [InlineData("perplexity", false)]
    [InlineData("accuracy", true)]
    [InlineData("f1", true)]
    public void Losses_and_perplexities_rank_lowest_first_other_metrics_highest_first(string metric, bool greaterIsBetter) =>
        Assert.Equal(!greaterIsBetter, SweepSummary.IsLowerBetter(metric));
}
