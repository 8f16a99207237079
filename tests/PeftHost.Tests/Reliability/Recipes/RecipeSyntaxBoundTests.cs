using System.Diagnostics;
using System.Text;
using PeftHost.Cli.Commands;
using PeftHost.Core.Recipes.Sandbox;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Reliability.Training;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Recipes;

/// <summary>
/// Issue #23 item 3: a recipe whose syntax is too deep for Jint's recursive passes (one 1 MB <c>1+1+…</c>
/// expression) killed <c>peft</c> with a stack overflow (exit 134 and megabytes of trace). It must be refused
/// as a syntax error naming the file. Run in a real process: before the fix the input ends the process.
/// </summary>
[Collection(ReliabilityProcessCollection.Name)]
public sealed class RecipeSyntaxBoundTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("sum", "const x = ", "1+", 500_000, "1;")]
    [InlineData("assign", "let a; ", "a=", 400_000, "1;")]
    [InlineData("ternary", "const x = ", "1?1:", 250_000, "1;")]
    public void A_recipe_too_deep_to_walk_is_a_clean_syntax_error(string name, string head, string repeated, int times, string tail)
    {
        string recipe = _dir[$"{name}.js"];
        var text = new StringBuilder(head);
        for (int i = 0; i < times; i++) text.Append(repeated);
        File.WriteAllText(recipe, text.Append(tail).Append('\n').ToString());
        var clock = Stopwatch.StartNew();
        var run = PeftProcess.RunToEnd(recipe, _dir["out"], TimeSpan.FromSeconds(120));
        Assert.True(run.Code == PeftCli.Failure, $"exit {run.Code}\n{run.Err[..Math.Min(2000, run.Err.Length)]}");
        string first = run.Err.Split('\n')[0];
        Assert.Matches($@"^\S*{name}\.js:\d+:\d+: SyntaxError: ", first);
        Assert.DoesNotContain("Exception", run.Err);
        Assert.DoesNotContain("Stack overflow", run.Err);
        Assert.True(run.Err.Length < 2000, $"stderr holds {run.Err.Length:N0} characters");
        ReliabilityLog.Record("recipes", $"{new FileInfo(recipe).Length / 1e6:F1} MB recipe of one '{repeated}' chain ({times:N0} terms): exit 1 after {clock.Elapsed.TotalSeconds:F1} s, \"{first.Replace(_dir.Path + "/", "")}\"");
    }

    [Fact]
    public void A_module_larger_than_the_limit_is_refused_naming_it()
    {
        string recipe = _dir["huge.js"];
        File.WriteAllText(recipe, "// " + new string('x', SyntaxDepth.MaxModuleChars) + "\n");
        var run = PeftProcess.RunToEnd(recipe, _dir["out"], TimeSpan.FromSeconds(60));
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Matches(@"^\S*huge\.js:1:1: SyntaxError: the module is larger than 4,194,304 characters", run.Err);
    }
}
