using System.Text.Json.Nodes;
using PeftHost.Cli.Commands;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Training;

/// <summary>
/// Issue #23 item 3: a damaged <c>trainer_state.json</c> whose values reach libtorch or the data loader on resume
/// (the CPU generator's state of the wrong length made libtorch call terminate: exit 134) must be refused naming
/// the file and the key. Driven through <c>peft run</c> with <c>resumeFrom: "latest"</c>, in a real process,
/// since before the fix the resume aborts the process.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class DamagedResumeStateTests
{
    private static string Recipe => TestPaths.Fixture("reliability", "recipes", "train-every-step.js");

    [Theory]
    [InlineData("torch_cpu_rng_state", "short", "holds 100 bytes")]
    [InlineData("torch_cpu_rng_state", "left0", "is not a valid Mersenne Twister state")]
    [InlineData("torch_cpu_rng_state", "text", "is not base64")]
    [InlineData("batch_in_epoch", "99", "is 99; an epoch of this run has batches 0 to 5")]
    [InlineData("epoch", "-3", "is -3; it cannot be negative")]
    public void A_damaged_value_is_refused_naming_the_file_and_key(string key, string damage, string message)
    {
        using var dir = new TempDir();
        string output = dir["run"];
        var first = PeftProcess.RunToEnd(Recipe, output, TimeSpan.FromMinutes(2), "--set", "steps=2");
        Assert.True(first.Code == 0, first.Err);
        string stateFile = Directory.GetFiles(Path.Combine(output, "train", "checkpoints"), "trainer_state.json", SearchOption.AllDirectories).Max()!;
        var state = JsonNode.Parse(File.ReadAllText(stateFile))!.AsObject();
        state[key] = damage switch
        {
            "short" => Convert.ToBase64String(new byte[100]),
            "left0" => Convert.ToBase64String(WithLeft(Convert.FromBase64String(state[key]!.GetValue<string>()), 0)),
            "text" => "not base64 at all!",
            _ => JsonValue.Create(int.Parse(damage)),
        };
        File.WriteAllText(stateFile, state.ToJsonString());

        var resumed = PeftProcess.RunToEnd(Recipe, output, TimeSpan.FromMinutes(2), "--set", "steps=4", "--set", "resume=latest");
        Assert.True(resumed.Code == PeftCli.Failure, $"exit {resumed.Code}\n{resumed.Err[..Math.Min(3000, resumed.Err.Length)]}");
        string firstLine = PeftHost.Tests.Recipes.RecipeAssert.FailureLine(resumed.Err);
        Assert.True(firstLine.Contains($"trainer_state.json: {key} {message}", StringComparison.Ordinal), resumed.Err);
        Assert.DoesNotContain("Exception", resumed.Err);
        ReliabilityLog.Record("training", $"resume with {key} damaged ({damage}): exit 1, \"{firstLine[(firstLine.IndexOf("trainer_state.json", StringComparison.Ordinal))..]}\"");
    }

    /// <summary>The state with the Mersenne Twister's <c>left</c> counter (byte 8) set to <paramref name="left"/>.</summary>
    private static byte[] WithLeft(byte[] state, int left)
    {
        BitConverter.GetBytes(left).CopyTo(state, 8);
        return state;
    }
}
