using PeftHost.Core.Plugins;
using PeftHost.Core.Training;

namespace PeftHost.Tests.Dashboard;

/// <summary>Events as the engine would publish them, for feeding view-models.</summary>
internal static class DashboardEvents
{
    public static PluginInfo Plugin(string name, PluginState state = PluginState.Loaded, string? version = "1.0.0", string? reason = null,
        int generation = 1, string? lastReloadError = null, params PluginExport[] exports) =>
        new(name, $"/plugins/{name}/{name}.dll", version, new Version(1, 0, 0), state, reason, 12.5,
            exports.Length == 0 && state != PluginState.Failed ? [Method(name.ToLowerInvariant())] : exports, generation, lastReloadError);

    public static PluginExport Method(string name, string peftType = "LORA") =>
        new(name, PluginExportKind.Method, peftType, $"{name} method", $"Plugins.{name}Method");

    public static PluginExport Quantizer(string name) =>
        new(name, PluginExportKind.Quantizer, null, $"{name} quantizer", $"Plugins.{name}Quantizer");

    public static TrainingStepEvent Step(int step, int total = 40, double loss = 2.0, string runId = "run-1", double tokensPerSecond = 1234,
        double learningRate = 3e-4, double gradNorm = 0.8, double? etaSeconds = null) =>
        new(runId, step, total, step / 10.0, loss, learningRate, gradNorm, tokensPerSecond, TimeSpan.FromSeconds(step),
            TimeSpan.FromSeconds(etaSeconds ?? (total - step)));

    public static EvaluationEvent Evaluation(int step, double evalLoss, string runId = "run-1") =>
        new(runId, step, new Dictionary<string, double> { ["eval_loss"] = evalLoss, ["eval_perplexity"] = Math.Exp(evalLoss) });
}
