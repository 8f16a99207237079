using System.Text.Json;

namespace PeftHost.Tests.Judges;

/// <summary>The judge installer itself: pins are enforced, and an installed package really runs.</summary>
public sealed class NodeJudgeTests
{
    [Fact]
    public void An_unpinned_package_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => NodeJudge.Require("@huggingface/jinja"));
        Assert.Contains("name@version", e.Message);
    }

    [SkippableFact]
    public void An_installed_judge_runs_a_script_with_its_packages()
    {
        var judge = NodeJudge.Require(Judge.Jinja);
        var input = JsonSerializer.Serialize(new { template = "{% for m in messages %}[{{ m | upper }}]{% endfor %}", context = new { messages = new[] { "a", "b" } } });
        Assert.Equal("[A][B]", judge.Run(JudgeScripts.Path("jinja-render.mjs"), input));
    }
}
