using Jint;
using Jint.Native;
using PeftHost.Core.Plugins;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Recipes.Threading;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Training;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// Connects one <c>train</c> call to the recipe's handlers: the call's <c>onStep</c>/<c>onLog</c>/
/// <c>onEvaluate</c>/<c>onSave</c>/<c>onEnd</c> and the <c>on(event, fn)</c> subscriptions. The trainer
/// runs on the job thread; each handler call is handed to the script thread through the job's
/// <see cref="JobContext.OnScriptThread"/>, and the trainer waits for it (see <see cref="JobDispatcher"/>).
/// Step handlers get a context that can change the learning rate, switch the trained adapter,
/// request a checkpoint or stop the run — at this step boundary.
/// </summary>
internal sealed class TrainingBridge : IDisposable
{
    private readonly RecipeSession _s;
    private readonly RecipeModel _model;
    private readonly string _runId;
    private readonly Dictionary<string, List<JsValue>> _handlers = new(StringComparer.Ordinal);
    private readonly List<IDisposable> _subscriptions = [];
    private JobContext? _job;

    /// <summary>Collects the handlers for a run (on the script thread, before the job starts).</summary>
    public TrainingBridge(RecipeSession s, RecipeModel model, string runId, OptionValues options)
    {
        _s = s;
        _model = model;
        _runId = runId;
        foreach (var (evt, option) in new[] { ("step", "onStep"), ("log", "onLog"), ("evaluate", "onEvaluate"), ("save", "onSave"), ("end", "onEnd") })
        {
            var list = new List<JsValue>();
            if (options.Function(option) is { } own) list.Add(own);
            list.AddRange(s.Handlers.For(evt));
            _handlers[evt] = list;
        }
        _handlers["plugin"] = s.Handlers.For("plugin").ToList();
    }

    /// <summary>Hooks the trainer (on the job thread): step boundaries and the bus events of this run.</summary>
    public void Attach(Trainer trainer, JobContext job)
    {
        _job = job;
        trainer.StepBoundaryCallbacks.Add(OnBoundary);
        var bus = _s.Host.Events;
        if (Has("log")) _subscriptions.Add(bus.Subscribe<TrainingStepEvent>(e => Forward(e.RunId, "log", () => JsConvert.Object(_s.Engine,
        [
            new("step", e.Step), new("totalSteps", e.TotalSteps), new("epoch", e.Epoch), new("loss", e.Loss),
            new("learningRate", e.LearningRate), new("gradNorm", e.GradNorm), new("tokensPerSecond", e.TokensPerSecond),
            new("elapsed", e.Elapsed), new("eta", e.Eta),
        ]))));
        if (Has("evaluate")) _subscriptions.Add(bus.Subscribe<EvaluationEvent>(e => Forward(e.RunId, "evaluate", () => JsConvert.Object(_s.Engine,
            [new("step", e.Step), new("metrics", e.Metrics.ToDictionary(kv => kv.Key, kv => (object?)kv.Value))]))));
        if (Has("save")) _subscriptions.Add(bus.Subscribe<CheckpointEvent>(e => Forward(e.RunId, "save", () => JsConvert.Object(_s.Engine,
            [new("step", e.Step), new("path", e.Path), new("removed", e.Removed)]))));
        if (Has("end")) _subscriptions.Add(bus.Subscribe<TrainingFinishedEvent>(e => Forward(e.RunId, "end", () => JsConvert.Object(_s.Engine,
        [
            new("step", e.Step), new("reason", TrainingApi.ReasonName(e.Reason)), new("message", e.Message),
            new("finalLoss", e.FinalLoss), new("elapsed", e.Elapsed), new("checkpoint", e.LastCheckpoint),
        ]))));
        // Plugin reloads happen at this run's step boundaries (on the job thread), so they are this run's events.
        if (Has("plugin"))
        {
            _subscriptions.Add(bus.Subscribe<PluginReloadedEvent>(e => Forward(_runId, "plugin", () => PluginObject(e))));
            _subscriptions.Add(bus.Subscribe<PluginFailedEvent>(e => Forward(_runId, "plugin", () => PluginObject(e))));
        }
    }

    /// <summary>What a <c>plugin</c> handler gets: the plugin, the outcome, the versions, the reason and the one-line message.</summary>
    private JsValue PluginObject(IHostEvent e)
    {
        (PluginInfo Info, string Outcome, string? Version, string? Serving, string? Reason, double? Ms) p = e switch
        {
            PluginReloadedEvent r => (r.Plugin, "reloaded", r.Plugin.Version, r.Plugin.Version, null, r.ChangeToReinjectMs),
            PluginFailedEvent { StillServing: true } f => (f.Plugin, "refused", f.AttemptedVersion, f.Plugin.Version, f.Reason, null),
            PluginFailedEvent f => (f.Plugin, "failed", f.AttemptedVersion ?? f.Plugin.Version, null, f.Reason, null),
            _ => throw new ArgumentException("not a plugin reload event", nameof(e)),
        };
        return JsConvert.Object(_s.Engine,
        [
            new("plugin", p.Info.Name), new("outcome", p.Outcome), new("version", p.Version), new("servingVersion", p.Serving),
            new("previousVersion", (e as PluginReloadedEvent)?.PreviousVersion), new("reason", p.Reason),
            new("changeToReinjectMs", p.Ms), new("message", PluginEventText.From(e)!.Value.Message),
        ]);
    }

    /// <summary>Stops listening to the bus.</summary>
    public void Dispose()
    {
        foreach (var s in _subscriptions) s.Dispose();
        _subscriptions.Clear();
    }

    private bool Has(string evt) => _handlers[evt].Count > 0;

    /// <summary>At each step boundary (job thread): the host's own work first (plugin reloads), then the step handlers on the script thread.</summary>
    private void OnBoundary(StepBoundaryContext context)
    {
        // A plugin hot reload re-creates the adapters it made: train the re-created parameters from here on.
        if (_s.Host.AtStepBoundary?.Invoke() == true && _model.Peft is { } reloaded)
            context.ReplaceTrainableParameters(reloaded.TrainableParameters());
        if (!Has("step")) return;
        try
        {
            _job!.OnScriptThread(() =>
            {
                bool live = true;
                var payload = StepObject(context, () => live);
                try { Call("step", payload); }
                finally { live = false; }
            });
        }
        catch (OperationCanceledException) when (_s.Cancellation.IsCancellationRequested)
        {
            // Ctrl-C interrupted the handler: the trainer sees the token right after this boundary and writes its checkpoint.
        }
    }

    /// <summary>A bus event of this run (job thread): its handlers run on the script thread. A failure is kept by the job, which stops the run.</summary>
    private void Forward(string runId, string evt, Func<JsValue> payload)
    {
        if (runId != _runId || _job is null || _job.Failed) return;
        try { _job.OnScriptThread(() => Call(evt, payload())); }
        catch (Exception) { /* recorded by the job: the trainer stops at its next check and train() rethrows it */ }
    }

    private void Call(string evt, JsValue payload)
    {
        foreach (var handler in _handlers[evt])
        {
            var result = handler.Call(JsValue.Undefined, [payload]);
            if (result.IsPromise()) throw new RecipeApiException($"train: the '{evt}' handler returned a promise; handlers must be synchronous (the API's calls are)");
        }
    }

    /// <summary>What a step handler sees and may do, valid while it runs.</summary>
    private JsValue StepObject(StepBoundaryContext context, Func<bool> live)
    {
        void Check(string what)
        {
            if (!live()) throw new RecipeApiException($"step.{what}: the step context is only valid while its handler runs");
        }
        var peft = _model.Peft;
        var obj = JsConvert.Object(_s.Engine,
        [
            new("step", context.Step), new("totalSteps", context.TotalSteps), new("loss", context.Loss),
            new("learningRate", context.LearningRate), new("peakLearningRate", context.PeakLearningRate),
            new("runId", context.RunId), new("adapter", peft?.ActiveAdapter),
            new("metrics", context.Evaluation?.ToDictionary(kv => kv.Key, kv => (object?)kv.Value)),
        ]);
        obj.FastSetDataProperty("setLearningRate", _s.Function("setLearningRate", 1, values =>
        {
            Check("setLearningRate");
            var args = new ApiArguments("step.setLearningRate", values).AtMost(1, "(lr)");
            if (!args[0].IsNumber()) throw new RecipeApiException($"step.setLearningRate: lr must be a number, got {JsDescribe.Value(args[0])}");
            double lr = args[0].AsNumber();
            if (!(lr >= 0) || !double.IsFinite(lr)) throw new RecipeApiException($"step.setLearningRate: lr must be a finite number ≥ 0, got {lr}");
            context.PeakLearningRate = lr;
            return JsValue.Undefined;
        }));
        obj.FastSetDataProperty("stop", _s.Function("stop", 1, values =>
        {
            Check("stop");
            var args = new ApiArguments("step.stop", values).AtMost(1, "(reason)");
            context.Stop(args.String(0, "reason", "stopped by the recipe"));
            return JsValue.Undefined;
        }));
        obj.FastSetDataProperty("requestCheckpoint", _s.Function("requestCheckpoint", 0, _ =>
        {
            Check("requestCheckpoint");
            context.RequestCheckpoint();
            return JsValue.Undefined;
        }));
        obj.FastSetDataProperty("setAdapter", _s.Function("setAdapter", 1, values =>
        {
            Check("setAdapter");
            var args = new ApiArguments("step.setAdapter", values).AtMost(1, "(adapterName)");
            var p = _model.RequirePeft("step.setAdapter");
            string name = args.String(0, "adapterName");
            if (!p.Adapters.Any(a => a.Name == name))
                throw new RecipeApiException($"step.setAdapter: no adapter '{name}' (adapters: {string.Join(", ", p.Adapters.Select(a => a.Name))})");
            p.SetAdapter(name);
            var trainable = p.TrainableParameters();
            if (trainable.Count == 0) throw new RecipeApiException($"step.setAdapter: adapter '{name}' has no trainable parameters (load it with {{ isTrainable: true }})");
            context.ReplaceTrainableParameters(trainable);
            _s.Notice($"step {context.Step}: training adapter '{name}' from now on");
            return JsValue.Undefined;
        }));
        obj.FastSetDataProperty("log", _s.Function("log", 1, values =>
        {
            _s.Log(string.Join(" ", values.Select(v => ReportingApi.Show(_s, v))));
            return JsValue.Undefined;
        }));
        return obj;
    }
}
