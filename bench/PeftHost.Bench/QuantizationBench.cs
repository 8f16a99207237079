using System.Text;
using PeftHost.Core.Plugins;
using PeftHost.Core.Quantization;
using PeftHost.Sdk;
using static TorchSharp.torch;

namespace PeftHost.Bench;

/// <summary>NF4 quantize/dequantize throughput against plain memory-copy throughput.</summary>
public static class QuantizationBench
{
    /// <summary>Runs the suite on a 4096×4096 fp32 weight.</summary>
    public static SuiteResult Run(MachineInfo machine)
    {
        using var plugins = new PluginHost(new PluginHostOptions { WatchForChanges = false });
        var nf4 = plugins.GetQuantizer("nf4");
        const long n = 4096L * 4096;
        using var weight = randn(4096, 4096, device: BenchDevice.Current) * 0.02;
        using var target = empty_like(weight);
        double copy = Measure.Median(Measure.Seconds(() => target.copy_(weight), 7));
        var options = new QuantizationOptions(64, DoubleQuant: true);
        double quantize = Measure.Median(Measure.Seconds(() => { using var q = nf4.Quantize(weight, options); }, 3));
        using var quantized = nf4.Quantize(weight, options);
        double dequantize = Measure.Median(Measure.Seconds(() => { using var d = nf4.Dequantize(quantized, ScalarType.Float32); }, 7));

        double copyGBs = n * 4 * 2 / copy / 1e9; // read + write
        var sb = new StringBuilder();
        sb.AppendLine("A 4096×4096 fp32 weight (16.8M elements), NF4 with double quantization, blocksize 64; median of several runs.");
        sb.AppendLine();
        sb.AppendLine("| operation | elements/s | fp32 GB/s produced or consumed | vs memory copy |");
        sb.AppendLine("|---|---:|---:|---:|");
        sb.AppendLine($"| memory copy (fp32 → fp32) | {Measure.F(n / copy / 1e6)} M | {Measure.F(n * 4 / copy / 1e9, "F2")} | 1.00× |");
        sb.AppendLine($"| NF4 quantize | {Measure.F(n / quantize / 1e6)} M | {Measure.F(n * 4 / quantize / 1e9, "F2")} | {Measure.F(copy / quantize, "F3")}× |");
        sb.AppendLine($"| NF4 dequantize | {Measure.F(n / dequantize / 1e6)} M | {Measure.F(n * 4 / dequantize / 1e9, "F2")} | {Measure.F(copy / dequantize, "F3")}× |");
        sb.AppendLine();
        sb.AppendLine($"Memory copy moves {Measure.F(copyGBs, "F2")} GB/s counting read and write.");
        var chart = new BenchChart("throughput", "NF4 throughput vs memory copy (4096×4096 fp32)", "million elements/s",
            ["memory copy", "NF4 quantize", "NF4 dequantize"],
            [new ChartSeries("elements/s", [n / copy / 1e6, n / quantize / 1e6, n / dequantize / 1e6])]);
        return new SuiteResult(sb.ToString(), [chart]);
    }
}
