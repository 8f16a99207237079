using System.CommandLine;
using System.Text.Json.Nodes;
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
        var check = new Option<bool>("--check")
        {
            Description = "Also scan each loaded plugin for calls that hand libtorch a TorchSharp Scalar nothing holds " +
                          "(a use after free under garbage collection; see docs/PLUGINS.md); exit code 1 when one is found",
        };
        var directories = PluginDirectories();
        var command = new Command("plugins", "List plugin methods and quantizers: assembly, version, SDK version, state and load time") { json, check, directories };
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            using var host = OpenOneShot(parse.GetValue(directories));
            var rows = PluginReport.Rows(host.Plugins);
            var scalars = parse.GetValue(check) ? TemporaryScalars(host.Plugins) : null;
            if (parse.GetValue(json))
            {
                var array = PluginReport.ToJson(rows);
                if (scalars is not null)
                    foreach (var row in array.OfType<JsonObject>())
                        row["temporaryScalars"] = scalars.TryGetValue((string)row["assemblyPath"]!, out var calls)
                            ? new JsonArray(calls.Select(c => (JsonNode)c).ToArray())
                            : null; // a plugin that failed to load is not scanned
                output.WriteLine(array.ToJsonString(Json.Indented));
            }
            else
            {
                output.Write(PluginReport.FormatTable(rows, host.Roots));
                if (scalars is not null) output.Write(FormatTemporaryScalars(scalars));
            }
            return scalars is not null && scalars.Values.Any(calls => calls.Count > 0) ? 1 : 0;
        }));
        return command;
    }

    /// <summary>The temporary-Scalar calls of each plugin that loaded, by assembly path.</summary>
    private static Dictionary<string, IReadOnlyList<string>> TemporaryScalars(IEnumerable<PluginInfo> plugins) =>
        plugins.Where(p => p.State != PluginState.Failed)
            .DistinctBy(p => p.AssemblyPath)
            .ToDictionary(p => p.AssemblyPath, p => TemporaryScalarScan.Calls(p.AssemblyPath));

    private static string FormatTemporaryScalars(Dictionary<string, IReadOnlyList<string>> scalars)
    {
        var text = new System.Text.StringBuilder();
        int found = scalars.Values.Sum(calls => calls.Count);
        text.AppendLine();
        if (found == 0)
        {
            text.AppendLine($"scalar check: no call hands libtorch a temporary Scalar in {scalars.Count} plugin assemblies");
            return text.ToString();
        }
        text.AppendLine($"scalar check: {(found == 1 ? "1 call hands" : $"{found} calls hand")} libtorch a TorchSharp Scalar that nothing holds; a garbage collection");
        text.AppendLine("on another thread can free it while libtorch reads it. Hold it (using var s = 0.5.ToScalar()) or use");
        text.AppendLine("PeftHost.Sdk.TensorArithmetic (a.Plus(b), t.Times(0.5), ...): see docs/PLUGINS.md.");
        foreach (var (path, calls) in scalars.Where(s => s.Value.Count > 0).OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            text.AppendLine($"  {Path.GetFileName(path)} ({path}):");
            foreach (string call in calls) text.AppendLine($"    {call}");
        }
        return text.ToString();
    }
}
