using System.Diagnostics;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Plugins;
using PeftHost.Core.Runtime;
using PeftHost.Sdk;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PeftHost.Bench;

/// <summary>
/// Where a batch-1 decoding step's time goes (`--child decode-profile MODEL_DIR DTYPE`, DTYPE a load dtype or nf4 as
/// the anchors suite quantizes; run by hand; the figures go
/// to the performance log): the whole step as <see cref="TextGenerator"/> takes it, the model's forward pass alone
/// through the KV cache, the step's matrix-vector products alone (every linear layer once on one token, as the step
/// computes it: FloatMatVec's kernel for a plain float32 layer, the layer's own forward otherwise), one read of the same weights (the memory's floor), and attention alone
/// at the same cache length.
/// </summary>
public static class DecodeProfile
{
    private const int Threads = 2, Position = 160, Steps = 64;

    /// <summary>Prints milliseconds per step of each part.</summary>
    public static void Run(string dir, string dtype)
    {
        NativeRuntime.SetThreads(Threads);
        using var plugins = new PluginHost(new PluginHostOptions { WatchForChanges = false });
        using var model = AnchorsBench.LoadAs(dir, dtype, plugins);
        using var _ = inference_mode();
        var config = model.Config;
        int bos = config.BosTokenId ?? 1;

        // The whole step: Generate's per-token time between tokens Position and Position + Steps.
        var stamps = new List<double>();
        var clock = Stopwatch.StartNew();
        new TextGenerator(model).Generate([[bos]], new GenerationOptions { Temperature = 0, MaxNewTokens = Position + Steps, StopAtEos = false },
            (_, _) => stamps.Add(clock.Elapsed.TotalSeconds));
        double generate = (stamps[^1] - stamps[Position - 1]) / Steps;

        // The forward pass alone, the cache filled to Position.
        using var cache = KvCache.For(model, 1, Position + Steps + 1);
        using (var prompt = full(1, Position, bos, ScalarType.Int64)) model.Forward(prompt, cache: cache, lastPositionOnly: true).Dispose();
        using var token = full(1, 1, bos, ScalarType.Int64);
        double forward = PerStep(() => model.Forward(token, cache: cache, lastPositionOnly: true).Dispose(), () => cache.Crop(Position));

        // Matrix-vector products alone: every linear layer (plain or quantized) on one token.
        var layers = model.modules().Where(m => m is Linear or ILinearLayer).Cast<nn.Module<Tensor, Tensor>>().ToList();
        var weights = layers.SelectMany(l => l.parameters().Select(p => (Tensor)p).Concat(l.buffers())).ToList();
        var inputs = layers.Select(l => randn(1, 1, l is Linear plain ? plain.in_features : ((ILinearLayer)l).InFeatures, dtype: model.Dtype)).ToList();
        double gemv = PerStep(() => { for (int i = 0; i < layers.Count; i++) FloatMatVec.Forward(layers[i], inputs[i]).Dispose(); });
        long weightBytes = weights.Sum(w => w.NumberOfElements * w.ElementSize);
        // The machine's floor for reading those weights: one pass that reads every byte and does almost nothing with it.
        double read = PerStep(() => { foreach (var w in weights) w.sum().Dispose(); });

        // Attention alone: one query against Position keys in every layer (KV heads repeated as the model does).
        var q = randn(1, config.NumAttentionHeads, 1, config.HeadDim, dtype: model.Dtype);
        var k = randn(1, config.NumKeyValueHeads, Position, config.HeadDim, dtype: model.Dtype);
        int rep = config.NumAttentionHeads / config.NumKeyValueHeads;
        double attention = PerStep(() =>
        {
            for (int layer = 0; layer < config.NumHiddenLayers; layer++)
            {
                using var scope = NewDisposeScope();
                var kk = rep == 1 ? k : k.unsqueeze(2).expand(1, config.NumKeyValueHeads, rep, Position, config.HeadDim).reshape(1, config.NumAttentionHeads, Position, config.HeadDim);
                F.scaled_dot_product_attention(q, kk, kk, null, 0.0, false);
            }
        });
        Console.WriteLine($"{Path.GetFileName(dir)} {dtype}, position {Position}, {Threads} threads: ms per token");
        Console.WriteLine($"  generate step {generate * 1e3:F2} ({1 / generate:F1} tokens/s)");
        Console.WriteLine($"  model forward {forward * 1e3:F2}; sampling and bookkeeping {(generate - forward) * 1e3:F2}");
        Console.WriteLine($"  linear layers alone {gemv * 1e3:F2} ({layers.Count} matrix-vector products, {weightBytes / 1e6:F1} MB of weights, {weightBytes / gemv / 1e9:F1} GB/s)");
        Console.WriteLine($"  reading the same weights (a sum over each) {read * 1e3:F2} ({weightBytes / read / 1e9:F1} GB/s)");
        Console.WriteLine($"  attention alone {attention * 1e3:F2}");
        Console.WriteLine($"  rest of the forward (norms, RoPE, residuals, cache writes, per-op overhead) {(forward - gemv - attention) * 1e3:F2}");
    }

    /// <summary>Seconds per call of <paramref name="step"/>: median over 5 batches of <see cref="Steps"/> calls after a warm-up batch.</summary>
    private static double PerStep(Action step, Action? reset = null)
    {
        var batches = Measure.Seconds(() =>
        {
            for (int i = 0; i < Steps; i++) step();
            reset?.Invoke();
        }, 5);
        return Measure.Median(batches) / Steps;
    }
}
