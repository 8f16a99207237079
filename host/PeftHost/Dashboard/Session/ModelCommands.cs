using System.Diagnostics;
using System.Globalization;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Generation;

namespace PeftHost.Cli.Dashboard.Session;

/// <summary>
/// Turns the Adapters panel's and the Playground's requests into jobs on the <see cref="JobRunner"/>
/// that act on the <see cref="DashboardModel"/>. Nothing here touches the model on the caller's
/// thread; a request made while another job runs is refused with the job's name.
/// </summary>
public sealed class ModelCommands(JobRunner jobs, DashboardModel model) : IAdapterCommands, IPlaygroundCommands
{
    private int _requests;

    /// <inheritdoc />
    public CommandResult LoadModel(string directory) =>
        Start(JobKind.Model, $"load model {directory}", () => model.Load(directory), $"loading {directory}…");

    /// <inheritdoc />
    public CommandResult LoadAdapter(string directory) =>
        Start(JobKind.Model, $"load adapter {directory}", () => model.LoadAdapter(directory), $"loading adapter {directory}…");

    /// <inheritdoc />
    public CommandResult SetActive(string name) =>
        Start(JobKind.Model, $"set adapter {name}", () => model.SetActive(name), $"activating '{name}'…");

    /// <inheritdoc />
    public CommandResult SetDisabled(bool disabled) =>
        Start(JobKind.Model, disabled ? "disable adapters" : "enable adapters", () => model.SetDisabled(disabled),
            disabled ? "adapters disabled: the base model answers alone" : "adapters enabled");

    /// <inheritdoc />
    public CommandResult ToggleMerge(string name) =>
        Start(JobKind.Model, $"merge/unmerge {name}", () => model.ToggleMerge(name), $"merging/unmerging '{name}'…");

    /// <inheritdoc />
    public CommandResult Save(string name, string directory) =>
        Start(JobKind.Model, $"save adapter {name}", () => model.Save(name, directory), $"saving '{name}' to {directory}…");

    /// <inheritdoc />
    public CommandResult ExportGguf(string directory)
    {
        string adapter = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        string target = MergedGgufPath(adapter);
        var started = jobs.TryStart(JobKind.Model, "export GGUF", _ =>
        {
            var clock = Stopwatch.StartNew();
            var result = model.ExportMergedGguf(adapter, target);
            // The file's name only: the message line has 80 columns; the Log names the whole path.
            return new JobResult(JobOutcome.Succeeded, string.Create(CultureInfo.InvariantCulture,
                $"exported {Path.GetFileName(target)} ({DisplayFormat.Bytes(result.Bytes)}) in {clock.Elapsed.TotalSeconds:0.0} s"));
        }, out string? busy);
        return started is null ? Busy(busy) : CommandResult.Ok($"exporting {target} (merging into a fresh copy of the model)…");
    }

    /// <summary>Where Export GGUF writes the model merged with the adapter folder <paramref name="adapter"/>: beside it, <c>NAME-merged.gguf</c>.</summary>
    public static string MergedGgufPath(string adapter) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(adapter)) + "-merged.gguf";

    /// <inheritdoc />
    public CommandResult Generate(string prompt, GenerationOptions options)
    {
        int id = Interlocked.Increment(ref _requests);
        var started = jobs.TryStart(JobKind.Generation, "generate", token => model.Generate(id, prompt, options, token), out string? busy);
        return started is null ? Busy(busy) : CommandResult.Ok("generating…");
    }

    /// <inheritdoc />
    public CommandResult Chat(ChatRequest request, GenerationOptions options)
    {
        int id = Interlocked.Increment(ref _requests);
        var started = jobs.TryStart(JobKind.Generation, "chat", token => model.Chat(id, request, options, token), out string? busy);
        return started is null ? Busy(busy) : CommandResult.Ok("answering…");
    }

    private CommandResult Start(JobKind kind, string name, Action work, string message)
    {
        var started = jobs.TryStart(kind, name, _ => work(), out string? busy);
        return started is null ? Busy(busy) : CommandResult.Ok(message);
    }

    private static CommandResult Busy(string? job) => CommandResult.Refused($"busy: {job} is running (Ctrl-C stops it)");
}
