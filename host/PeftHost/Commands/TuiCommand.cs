using System.CommandLine;
using PeftHost.Cli.Dashboard;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Farm;

namespace PeftHost.Cli.Commands;

/// <summary><c>peft tui</c>: the terminal dashboard (also what <c>peft</c> alone opens in an interactive terminal).</summary>
public static class TuiCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model folder for the Adapters and Playground panels (default: models/stories260k in the workspace)" };
        var noModel = new Option<bool>("--no-model") { Description = "Start without loading a model" };
        var recipes = new Option<string?>("--recipes") { Description = "Recipes folder to list (default: recipes/ in the workspace)" };
        var workspace = new Option<string?>("--workspace") { Description = "Folder whose models/ and data/ recipes read; runs go to its runs/ (default: the current folder)" };
        var runs = new Option<string?>("--runs") { Description = "Folder for run outputs (default: runs/ in the workspace)" };
        var device = CommonOptions.Device();
        var plugins = PluginsCommand.PluginDirectories();
        var cluster = FarmOptions.Cluster("Watch the farm whose silos meet in this Redis in the Farm panel (the dashboard connects as its client)");
        var key = FarmOptions.ClusterKey();
        var tls = FarmOptions.Tls();
        var command = new Command("tui", "Open the terminal dashboard: plugins, recipes, runs, adapters, playground, log, farm")
        {
            model, noModel, recipes, workspace, runs, device, plugins, cluster, key,
        };
        foreach (var option in tls.All) command.Options.Add(option);
        command.SetAction(CommandAction.Of((parse, output) =>
        {
            string root = Path.GetFullPath(parse.GetValue(workspace) ?? Directory.GetCurrentDirectory());
            var options = new DashboardOptions
            {
                Workspace = root,
                RecipesFolder = parse.GetValue(recipes),
                RunsFolder = parse.GetValue(runs),
                ModelPath = parse.GetValue(model),
                NoModel = parse.GetValue(noModel),
                Device = parse.GetValue(device)!,
                PluginDirectories = parse.GetValue(plugins) ?? [],
                Cluster = parse.GetValue(cluster) is { } address ? ClusterAddress.Parse(address) : null,
                ClusterKey = parse.GetValue(cluster) is null ? null : FarmOptions.KeyOf(parse, key),
                Tls = tls.Load(parse),
            };
            // After the options: a bad --cluster-key or --tls-cert is reported as such, in a script too.
            if (Console.IsInputRedirected || Console.IsOutputRedirected)
            {
                parse.InvocationConfiguration.Error.WriteLine("error: peft tui needs an interactive terminal (for scripts, use peft run, which prints progress headless)");
                return PeftCli.Failure;
            }
            return DashboardApp.Run(options);
        }));
        return command;
    }
}
