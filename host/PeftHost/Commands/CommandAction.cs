using System.CommandLine;
using PeftHost.Core.Data;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using PeftHost.Sdk;

namespace PeftHost.Cli.Commands;

/// <summary>Runs a command body and maps failures to one clear line on stderr and exit code 1.</summary>
public static class CommandAction
{
    /// <summary>Wraps <paramref name="body"/> (which writes to the given output) with the failure convention.</summary>
    public static Func<ParseResult, int> Of(Func<ParseResult, TextWriter, int> body) => parse =>
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        try
        {
            return body(parse, output);
        }
        catch (Exception e) when (IsUserFacing(e))
        {
            error.WriteLine($"error: {e.Message}");
            if (parse.GetValue(CommonOptions.Verbose)) error.WriteLine(e);
            return PeftCli.Failure;
        }
        catch (Exception e)
        {
            // Not a failure the code expected: still one line in the user's terms; --verbose shows the type and stack.
            error.WriteLine($"error: unexpected failure: {e.Message}");
            error.WriteLine(parse.GetValue(CommonOptions.Verbose) ? e.ToString() : "(run with --verbose for the stack trace)");
            return PeftCli.Failure;
        }
    };

    private static bool IsUserFacing(Exception e) =>
        e is ModelFormatException or TokenizerFormatException or DataFormatException or ConfigException
            or ArgumentException or PeftHost.Core.Chat.ChatTemplateException or IOException or UnauthorizedAccessException or InvalidOperationException or FormatException;
}
