using System.Diagnostics;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Plugins;
using PeftHost.Core.Runtime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Bench;

/// <summary>
/// Where a LoRA training step's time goes (`--child train-profile MODEL_DIR BATCH SEQ THREADS DROPOUT`, run by hand;
/// the figures go to the performance log): the forward pass as the loss, as logits, with the adapter disabled and
/// without autograd; forward + backward with and without a padding mask; LoRA's input dropout alone (35 layers, as
/// stories260k with all-linear targets has); attention alone.
/// </summary>
public static class TrainProfile
{
    private const int Steps = 5;

    public static void Run(string dir, int batch, int seq, int threads, double dropout)
    {
        NativeRuntime.SetThreads(threads);
        using var plugins = new PluginHost(new PluginHostOptions { WatchForChanges = false });
        using var model = ModelLoader.Load(dir, ScalarType.Float32);
        var peft = new PeftModel(model, plugins);
        peft.AddAdapter("lora", new JsonObject { ["r"] = 8, ["loraAlpha"] = 16, ["loraDropout"] = dropout, ["targetModules"] = "all-linear" });
        model.train();
        var config = model.Config;
        var ids = randint(3, config.VocabSize, [batch, seq], dtype: ScalarType.Int64);
        var labels = ids.clone();
        var mask = ones(batch, seq, ScalarType.Int64);
        mask[0, ..8] = zeros(8, ScalarType.Int64); // one left-padded row: the mask path

        double logitsForward = Time(() => { using var s = NewDisposeScope(); model.Forward(ids); });
        double baseForward;
        using (peft.DisableAdapter()) baseForward = Time(() => { using var s = NewDisposeScope(); model.NextTokenLossSum(ids, null, labels); });
        double inference;
        using (no_grad()) inference = Time(() => { using var s = NewDisposeScope(); model.NextTokenLossSum(ids, null, labels); });
        double forward = Time(() => { using var s = NewDisposeScope(); model.NextTokenLossSum(ids, null, labels); });
        double noMask = Time(() => { using var s = NewDisposeScope(); model.NextTokenLossSum(ids, null, labels).backward(); });
        double withMask = Time(() => { using var s = NewDisposeScope(); model.NextTokenLossSum(ids, mask, labels).backward(); });

        var q = randn(batch, config.NumAttentionHeads, seq, config.HeadDim, requires_grad: true);
        var k = randn(batch, config.NumAttentionHeads, seq, config.HeadDim, requires_grad: true);
        var v = randn(batch, config.NumAttentionHeads, seq, config.HeadDim, requires_grad: true);
        double attention = Time(() =>
        {
            for (int layer = 0; layer < config.NumHiddenLayers; layer++)
            {
                using var s = NewDisposeScope();
                F.scaled_dot_product_attention(q, k, v, null, 0.0, true).sum().backward();
            }
        });
        var xs = randn(batch * seq, config.HiddenSize);
        double bern = Time(() => { for (int i = 0; i < 35; i++) { using var s = NewDisposeScope(); F.dropout(xs, 0.05, true); } });
        double uni = Time(() => { for (int i = 0; i < 35; i++) { using var s = NewDisposeScope(); var m = rand_like(xs).ge_(0.05); xs.mul(m); } });
        long tokens = (long)batch * seq;
        Console.WriteLine($"{Path.GetFileName(dir)}, LoRA r=8 all-linear, dropout {dropout}, batch {batch} × {seq}, {threads} threads: ms per step (tokens/s)");
        Console.WriteLine($"  forward (loss) {forward * 1e3:F1}; logits instead of loss {logitsForward * 1e3:F1}; adapter disabled {baseForward * 1e3:F1}; no_grad {inference * 1e3:F1}");
        Console.WriteLine($"  forward + backward, no mask {noMask * 1e3:F1} ({tokens / noMask:F0})");
        Console.WriteLine($"  forward + backward, padding mask {withMask * 1e3:F1} ({tokens / withMask:F0})");
        Console.WriteLine($"  35 dropouts of [{xs.shape[0]}, {xs.shape[1]}] at p = 0.05: F.dropout {bern * 1e3:F1} ms, rand_like >= p {uni * 1e3:F1} ms");
        Console.WriteLine($"  attention alone, causal, forward + backward, all layers {attention * 1e3:F1}");
    }

    private static double Time(Action step)
    {
        step();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Steps; i++) step();
        return clock.Elapsed.TotalSeconds / Steps;
    }
}
