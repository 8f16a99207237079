using PeftHost.Core.Chat;
using PeftHost.Core.Data;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using PeftHost.Sdk;

namespace PeftHost.Core.Runtime;

/// <summary>
/// How a failure is told to a user, in one place for the CLI, recipes and the dashboard: the failures the code
/// expects (bad files, bad arguments, I/O) by their message alone; any other kind says it was unexpected,
/// still in words. Never a .NET type name: that is for <c>--verbose</c> and the debug log.
/// </summary>
public static class FailureText
{
    /// <summary>Whether <paramref name="e"/> is a failure the code raises on purpose, whose message is written for the user.</summary>
    public static bool IsExpected(Exception e) =>
        e is ModelFormatException or TokenizerFormatException or DataFormatException or ConfigException or ChatTemplateException
            or ArgumentException or InvalidOperationException or NotSupportedException or FormatException
            or IOException or UnauthorizedAccessException;

    /// <summary>The one-line text of <paramref name="e"/> for a user.</summary>
    public static string Describe(Exception e) => IsExpected(e) ? e.Message : $"unexpected failure: {e.Message}";
}
