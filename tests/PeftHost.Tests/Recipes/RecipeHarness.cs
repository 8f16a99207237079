using System.CommandLine;
using System.Text;
using PeftHost.Cli.Commands;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>Writes recipes into a temporary folder and runs them with <c>peft run</c>, in-process.</summary>
public sealed class RecipeHarness : IDisposable
{
    private readonly TempDir _dir = new();

    /// <summary>The folder recipes are written to.</summary>
    public string Folder => _dir.Path;

    /// <summary>The output folder runs write to.</summary>
    public string Output => Path.Combine(_dir.Path, "out");

    /// <summary>Writes <paramref name="source"/> as <paramref name="name"/> (subfolders allowed) and returns its path.</summary>
    public string Write(string name, string source)
    {
        string path = Path.Combine(_dir.Path, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, source.ReplaceLineEndings("\n"));
        return path;
    }

    /// <summary>Runs <c>peft run</c> on <paramref name="recipe"/> with the repository as workspace and <see cref="Output"/> as output.</summary>
    public static (int Code, string Out, string Err) RunFile(string recipe, string output, params string[] extra)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = PeftCli.Run(["run", recipe, "--out", output, "--workspace", TestPaths.RepoRoot, .. extra], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Writes and runs a recipe.</summary>
    public (int Code, string Out, string Err) Run(string name, string source, params string[] extra) => RunFile(Write(name, source), Output, extra);

    /// <summary>Writes and runs <c>recipe.js</c>, asserting that it succeeds (both streams shown when it does not).</summary>
    public (int Code, string Out, string Err) RunOk(string source, params string[] extra)
    {
        var run = Run("recipe.js", source, extra);
        Assert.True(run.Code == 0, $"exit {run.Code}\nstdout:\n{run.Out}\nstderr:\n{run.Err}");
        return run;
    }

    /// <summary>
    /// Runs <c>peft run</c> with a cancellation token standing in for Ctrl-C, cancelled as soon as
    /// the recipe prints <paramref name="trigger"/>.
    /// </summary>
    public (int Code, string Out, string Err) RunCancelledAt(string name, string source, string trigger, params string[] extra)
    {
        string recipe = Write(name, source);
        using var cts = new CancellationTokenSource();
        var stdout = new TriggerWriter(trigger, cts.Cancel);
        var stderr = new StringWriter();
        var root = new RootCommand { RunCommand.Create(cts.Token) };
        var parse = root.Parse(["run", recipe, "--out", Output, "--workspace", TestPaths.RepoRoot, .. extra]);
        int code = parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <inheritdoc />
    public void Dispose() => _dir.Dispose();

    /// <summary>A string writer that calls an action the first time a text appears in what was written.</summary>
    private sealed class TriggerWriter(string trigger, Action onTrigger) : StringWriter
    {
        private bool _fired;

        public override void Write(char value)
        {
            base.Write(value);
            Check();
        }

        public override void Write(string? value)
        {
            base.Write(value);
            Check();
        }

        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            Check();
        }

        private void Check()
        {
            if (_fired || !GetStringBuilder().ToString().Contains(trigger, StringComparison.Ordinal)) return;
            _fired = true;
            onTrigger();
        }
    }
}

/// <summary>Assertions on <c>peft run</c> failures.</summary>
public static class RecipeAssert
{
    /// <summary>The first line of <c>peft run</c>'s failure report: stderr's first line that is not a notice, progress or warning.</summary>
    public static string FailureLine(string stderr)
    {
        string[] runLines = ["[", "warning: ", "train ", "eval @ ", "checkpoint @ "];
        return stderr.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(l => !runLines.Any(p => l.StartsWith(p, StringComparison.Ordinal))) ?? "";
    }

    /// <summary>
    /// The run failed with <paramref name="code"/>, and the failure report's first line on stderr (after the run's
    /// <c>[peft]</c> notices, progress and warnings, which share stderr) starts with
    /// <c>{file}:{line}:{column}: </c> and contains <paramref name="message"/>.
    /// </summary>
    public static string FailsAt((int Code, string Out, string Err) run, int code, string file, int line, int? column, string message)
    {
        Assert.True(run.Code == code, $"exit code {run.Code}, expected {code}\nstdout:\n{run.Out}\nstderr:\n{run.Err}");
        string first = FailureLine(run.Err);
        string location = column is null ? $"{file}:{line}:" : $"{file}:{line}:{column}: ";
        Assert.True(first.Contains(location, StringComparison.Ordinal) && first.Contains(message, StringComparison.Ordinal),
            $"expected '{location}… {message}' in the first line of stderr:\n{run.Err}");
        return run.Err;
    }
}
