using System.CommandLine;
using PeftHost.Core.IO;
using PeftHost.Core.Plugins;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft plugins</c>: the methods and quantizers the plugins provide, and the plugins that failed and why.</summary>
public static class PluginsCommand
{
    /// <summary>The <c>--plugins DIR</c> option (repeatable); other commands that load methods can share it.</summary>
    public static Option<string[]> PluginDirectories() => new("--plugins")
    {
        Description = $"Extra plugin folder (repeatable), searched before {PluginLocations.EnvironmentVariable} and the built-in artifacts/plugins/",
        AllowMultipleArgumentsPerToken = false,
        DefaultValueFactory = _ => [],
    };

    /// <summary>
    /// The plugin host of a one-shot command (<c>plugins</c>, <c>inspect</c>, <c>eval</c>, <c>generate</c>, <c>merge</c>):
    /// the given folders first, no file watching, nothing to reload.
    /// </summary>
    public static PluginHost OpenOneShot(IReadOnlyList<string>? directories) =>
        new(new PluginHostOptions { PluginDirectories = directories ?? [], WatchForChanges = false });

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array instead of a table" };
        var directories = PluginDirectories();
        var command = new Command("plugins", "List plugin methods and quantizers: assembly, version, SDK version, state and load time") { json, directories };
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            using var host = OpenOneShot(parse.GetValue(directories));
            var rows = PluginReport.Rows(host.Plugins);
            if (parse.GetValue(json)) output.WriteLine(PluginReport.ToJson(rows).ToJsonString(Json.Indented));
            else output.Write(PluginReport.FormatTable(rows, host.Roots));
            return 0;
        }));
        return command;
    }
}
