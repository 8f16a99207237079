using System.CommandLine;
using System.CommandLine.Invocation;
using PeftHost.Core;

namespace PeftHost.Cli.Commands;

/// <summary>The <c>peft</c> command tree and its exit-code conventions: 0 success, 1 failure, 2 usage error.</summary>
public static class PeftCli
{
    /// <summary>Exit code for a failed command.</summary>
    public const int Failure = 1;

    /// <summary>Exit code for a malformed command line.</summary>
    public const int UsageError = 2;

    /// <summary>Builds the root command with every subcommand; <paramref name="input"/> feeds <c>peft chat</c> (stdin when null).</summary>
    public static RootCommand Build(TextReader? input = null)
    {
        var root = new RootCommand("PeftHost: parameter-efficient fine-tuning of LLaMA-family models on TorchSharp.");
        root.Options.Add(CommonOptions.Verbose);
        // The built-in --version reads the entry assembly (a test host, when run in-process): print PeftHost's own.
        root.Options.OfType<VersionOption>().Single().Action = new PrintVersion();
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ChatCommand.Create(input));
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(PluginsCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(SweepCommand.Create());
        root.Subcommands.Add(FarmCommand.Create());
        root.Subcommands.Add(TuiCommand.Create());
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null, TextReader? input = null)
    {
        // `peft` alone in an interactive terminal opens the dashboard; elsewhere it prints usage.
        if (args.Length == 0 && output is null && !Console.IsInputRedirected && !Console.IsOutputRedirected) args = ["tui"];
        var root = Build(input);
        var parse = root.Parse(args);
        var config = new InvocationConfiguration { Output = output ?? Console.Out, Error = error ?? Console.Error };
        if (parse.Errors.Count > 0 && !IsHelpRequest(args))
        {
            foreach (var e in parse.Errors) config.Error.WriteLine($"error: {e.Message}");
            config.Error.WriteLine("Run 'peft --help' for usage.");
            return UsageError;
        }
        return parse.Invoke(config);
    }

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(PeftHostVersion.Current);
            return 0;
        }
    }

    private static bool IsHelpRequest(string[] args) => args.Any(a => a is "--help" or "-h" or "-?");
}
