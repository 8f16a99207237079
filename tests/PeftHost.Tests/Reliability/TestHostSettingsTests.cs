namespace PeftHost.Tests.Reliability;

/// <summary>The test host runs with the settings docs/RELIABILITY.md relies on.</summary>
public class TestHostSettingsTests
{
    [Fact]
    public void The_test_host_runs_with_a_larger_gen0_budget()
    {
        // Set by tests/PeftHost.Tests/test.runsettings: it makes TorchSharp's temporary-Scalar race
        // rarer for the test code, which uses TorchSharp's operators freely (PeftHost's own code
        // avoids the race; see docs/RELIABILITY.md). If this fails, the
        // runsettings file is no longer wired into PeftHost.Tests.csproj.
        Assert.Equal("0x10000000", Environment.GetEnvironmentVariable("DOTNET_GCgen0size"));
    }
}
