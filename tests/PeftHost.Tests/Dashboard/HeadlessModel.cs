using System.Text.Json.Nodes;
using PeftHost.Cli.Dashboard.Jobs;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Peft;
using PeftHost.Core.Telemetry;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>
/// The dashboard's engine side without a UI: bus, job thread, a model with the real LoRA method,
/// the commands, and view-models fed from the bus the way the UI feeds them.
/// </summary>
internal sealed class HeadlessModel : IDisposable
{
    public HeadlessModel()
    {
        Pump = new EventPump(Events);
        Jobs = new JobRunner(Events);
        Model = new DashboardModel(Events, new StaticMethodCatalog(new LoraMethod()));
        Commands = new ModelCommands(Jobs, Model);
        Adapters = new AdaptersViewModel(Commands);
        Playground = new PlaygroundViewModel(Commands);
    }

    public EventBus Events { get; } = new();
    public EventPump Pump { get; }
    public JobRunner Jobs { get; }
    public DashboardModel Model { get; }
    public ModelCommands Commands { get; }
    public AdaptersViewModel Adapters { get; }
    public PlaygroundViewModel Playground { get; }
    public List<IHostEvent> Seen { get; } = [];

    /// <summary>A tiny random model with LoRA adapters named <paramref name="adapters"/> (the first active).</summary>
    public static HeadlessModel WithTinyLora(params string[] adapters)
    {
        var h = new HeadlessModel();
        h.Model.Attach(TinyModels.Create(), tokenizer: null, modelPath: "/models/tiny");
        foreach (var name in adapters)
            h.Model.Peft!.AddAdapter("lora", new JsonObject { ["r"] = 4, ["loraAlpha"] = 8, ["targetModules"] = new JsonArray("q_proj", "v_proj") }, name);
        if (adapters.Length > 0) h.Model.SetActive(adapters[0]);
        h.Settle();
        return h;
    }

    /// <summary>Waits for the job thread, then applies every queued event to the view-models.</summary>
    public void Settle()
    {
        Assert.True(Jobs.WaitForIdle(TimeSpan.FromSeconds(60)), "the job did not finish");
        foreach (var e in Pump.Drain())
        {
            Seen.Add(e);
            Adapters.Apply(e);
            Playground.Apply(e);
        }
    }

    public void Dispose()
    {
        Jobs.Dispose();
        Model.Dispose();
        Pump.Dispose();
    }
}
