namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>What became of a command the dashboard sent: started (as a job) or refused, with a line for the status bar.</summary>
/// <param name="Started">True when the work was started.</param>
/// <param name="Message">What happened, in a few words.</param>
public sealed record CommandResult(bool Started, string Message)
{
    /// <summary>The work started.</summary>
    public static CommandResult Ok(string message) => new(true, message);

    /// <summary>The work did not start.</summary>
    public static CommandResult Refused(string message) => new(false, message);
}
