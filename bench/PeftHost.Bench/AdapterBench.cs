using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using static TorchSharp.torch;

namespace PeftHost.Bench;

/// <summary>Serving with adapters: unmerged vs merged generation, adapter switching, plugin hot reload.</summary>
public static class AdapterBench
{
    private const int NewTokens = 64;
    private const int Rounds = 9;

    /// <summary>Runs the suite on the ~20M config.</summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        using var plugins = new PluginHost(new PluginHostOptions { WatchForChanges = false });
        using var model = ModelLoader.CreateRandom(BenchModels.Llama20M(), ScalarType.Float32, BenchDevice.Current, seed: 1);
        var peft = new PeftModel(model, plugins);
        var lora = new JsonObject { ["r"] = 8, ["loraAlpha"] = 16, ["targetModules"] = "all-linear" };
        peft.AddAdapter("lora", (JsonObject)lora.DeepClone(), "a");
        peft.AddAdapter("lora", (JsonObject)lora.DeepClone(), "b");
        using (no_grad())
            foreach (var (_, p) in peft.Adapters.SelectMany(e => e.Adapter.NamedParameters()).Where(p => p.Key.Contains("lora_B")))
                p.normal_(0, 0.01);
        peft.SetAdapter("a");

        var generator = new TextGenerator(model);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = NewTokens, StopAtEos = false };
        // Interleaved rounds, the order rotating, so drift in the machine's speed lands on all
        // three alike; merging happens outside the timed generation.
        var rates = Measure.InterleavedMedians(Rounds,
            () => { using (peft.DisableAdapter()) return Rate(); },
            Rate,
            () => { peft.MergeAdapter(); try { return Rate(); } finally { peft.UnmergeAdapter(); } });
        double baseRate = rates[0], unmerged = rates[1], merged = rates[2];
        double Rate()
        {
            var sw = Stopwatch.StartNew();
            generator.Generate([[1]], options);
            return NewTokens / sw.Elapsed.TotalSeconds;
        }

        // One layer, one token, no autograd: what an unmerged adapter adds to each linear call.
        // Steadier than end-to-end tokens/s on a busy machine, and what the fused path changes.
        const string layerPath = "model.layers.0.self_attn.q_proj";
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        var loraLayer = (nn.Module<Tensor, Tensor>)modules[layerPath];
        var plainLayer = (nn.Module<Tensor, Tensor>)modules[layerPath + ".base_layer"];
        using var token = randn(1, 1, model.Config.HiddenSize, device: BenchDevice.Current);
        double CallMicros(nn.Module<Tensor, Tensor> layer)
        {
            using var noGrad = no_grad();
            return Measure.Median(Measure.Seconds(() => { for (int i = 0; i < 2000; i++) { using var y = layer.call(token); } }, 5)) / 2000 * 1e6;
        }
        double plainMicros = CallMicros(plainLayer), unmergedMicros = CallMicros(loraLayer);
        peft.MergeAdapter();
        double mergedMicros = CallMicros(loraLayer);
        peft.UnmergeAdapter();

        // Switching the active adapter is a routing change: no weights move.
        var switchSeconds = Measure.Seconds(() => { for (int i = 0; i < 1000; i++) peft.SetAdapter(i % 2 == 0 ? "b" : "a"); }, 5);
        double switchMicros = Measure.Median(switchSeconds) / 1000 * 1e6;

        // Hot reload at a step boundary: state out, swap the LoRA assembly, re-inject, state in.
        using var reloadHost = new PluginHost(new PluginHostOptions { WatchForChanges = false });
        var reloadPeft = new PeftModel(model, reloadHost);
        peft.Unload();
        reloadPeft.AddAdapter("lora", (JsonObject)lora.DeepClone());
        using var registration = reloadHost.RegisterReloadParticipant(reloadPeft);
        string pluginName = reloadHost.PluginOf(reloadPeft["default"].Method)!.Name;
        var reloads = new List<double>();
        for (int i = 0; i < 6; i++)
        {
            reloadHost.RequestReload(pluginName);
            var sw = Stopwatch.StartNew();
            reloadHost.ApplyPendingReloads();
            reloads.Add(sw.Elapsed.TotalMilliseconds);
        }

        var sb = new StringBuilder();
        sb.AppendLine($"Random LLaMA ~20M, LoRA r=8 on all linear layers, greedy decoding of {NewTokens} tokens with the KV cache; " +
                      $"median of {Rounds} interleaved rounds (base, unmerged, merged, the order rotating).");
        sb.AppendLine();
        sb.AppendLine("| configuration | tokens/s | vs merged |");
        sb.AppendLine("|---|---:|---:|");
        sb.AppendLine($"| base model (adapters disabled) | {Measure.F(baseRate)} | {Measure.F(baseRate / merged, "F2")}× |");
        sb.AppendLine($"| adapter unmerged | {Measure.F(unmerged)} | {Measure.F(unmerged / merged, "F2")}× |");
        sb.AppendLine($"| adapter merged | {Measure.F(merged)} | 1.00× |");
        sb.AppendLine();
        sb.AppendLine($"Target: unmerged within 10% of merged — measured {Measure.F(100 * (1 - unmerged / merged))}% slower.");
        sb.AppendLine();
        sb.AppendLine($"- One `{layerPath}` call on one token (no autograd, median of 5 × 2000): plain linear **{Measure.F(plainMicros, "F2")} µs**, " +
                      $"LoRA layer unmerged **{Measure.F(unmergedMicros, "F2")} µs** (+{Measure.F(unmergedMicros - plainMicros, "F2")} µs), merged **{Measure.F(mergedMicros, "F2")} µs**.");
        sb.AppendLine($"- Adapter switch (`SetAdapter`, two LoRA adapters on every linear layer): **{Measure.F(switchMicros, "F2")} µs** per switch (median of 5 × 1000).");
        sb.AppendLine($"- Plugin hot reload at a step boundary (LoRA plugin, adapter on every linear layer: state out, assembly swapped, re-injected, state in): " +
                      $"**{Measure.F(Measure.Median(reloads.Skip(1)))} ms** median of {reloads.Count - 1} (first: {Measure.F(reloads[0])} ms).");
        var chart = new BenchChart("generation", $"Generation with a LoRA adapter, ~20M, median of {Rounds} rounds", "tokens/s",
            ["base (adapters disabled)", "adapter unmerged", "adapter merged"],
            [new ChartSeries("tokens/s", [baseRate, unmerged, merged])]);
        return new SuiteResult(sb.ToString(), [chart]);
    }
}
