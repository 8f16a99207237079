using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PeftHost.Sdk;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>
/// The model's projections, and for a few rows of float32 on the CPU (decoding: one token a row)
/// y = x·Wᵀ + b computed by a hand-written kernel whose parts run on libtorch's own threads
/// (<see cref="IntraOpParallel"/>). Written by hand because libtorch computes a one-row product on
/// one thread whatever its thread count (measured on ~100M's projections: 15 GB/s with 1 thread and
/// with 2, against 29 GB/s for one read of the same weights), and a decoding step is that product,
/// layer after layer. The kernel reads each weight row once with four independent multiply-add
/// chains per row of x, and splits the weight's rows over the threads. Other layers (an adapter's
/// wrapper, a quantized layer, other dtypes or devices, more rows, autograd, a weight too small to
/// split) take their own forward.
/// </summary>
public static unsafe class FloatMatVec
{
    /// <summary>The most rows of x the kernel takes: each weight row is read once for all of them.</summary>
    public const int MaxRows = 4;

    /// <summary><paramref name="layer"/>'s forward of <paramref name="x"/>, through the kernel where it applies.</summary>
    public static Tensor Forward(nn.Module<Tensor, Tensor> layer, Tensor x) =>
        layer is Linear plain && Applies(plain.weight!, x) ? Kernel(plain.weight!, x, plain.bias) : layer.forward(x);

    /// <summary>x·Wᵀ for a weight [out, in] that is not a module's (a tied output table), through the kernel where it applies.</summary>
    public static Tensor Linear(Tensor x, Tensor weight) =>
        Applies(weight, x) ? Kernel(weight, x, null) : nn.functional.linear(x, weight);

    /// <summary>True when the kernel computes <paramref name="x"/> times <paramref name="weight"/>ᵀ.</summary>
    public static bool Applies(Tensor weight, Tensor x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported) return false;
        // First what rejects every training and prefill call (more rows, autograd), each a call into libtorch.
        long inFeatures = weight.shape[^1], rows = x.NumberOfElements / inFeatures;
        if (rows > MaxRows || is_grad_enabled() && (x.requires_grad || weight.requires_grad)) return false;
        return x.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32
            && x.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU
            && weight.dim() == 2 && inFeatures % 8 == 0 && weight.is_contiguous() && x.shape[^1] == inFeatures
            // On one thread libtorch's product is as fast (16 GB/s) and costs less to call: the kernel is for the threads.
            && IntraOpParallel.Parts(weight.shape[0], inFeatures * rows) > 1;
    }

    /// <summary>x·Wᵀ (+ bias) by the kernel, its output rows split over libtorch's threads.</summary>
    private static Tensor Kernel(Tensor weight, Tensor x, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        var rows = x.reshape(-1, inFeatures).contiguous();
        var y = empty([rows.shape[0], outFeatures], ScalarType.Float32);
        var job = new Job(TensorMemory.Address(weight), TensorMemory.Address(rows), TensorMemory.Address(y), (int)rows.shape[0], outFeatures, inFeatures);
        IntraOpParallel.For(outFeatures, inFeatures * rows.shape[0], job.Run);
        if (bias is not null) y.AddInPlace(bias);
        return y.view([.. x.shape[..^1], outFeatures]).MoveToOuterDisposeScope();
    }

    private readonly struct Job(nint weight, nint x, nint y, int rows, long outFeatures, long inFeatures)
    {
        public void Run(long firstOut, long endOut)
        {
            for (long o = firstOut; o < endOut; o++)
            {
                var w = (float*)weight + o * inFeatures;
                // Each row of x against the same weight row: it stays in the L1 cache between them.
                for (int r = 0; r < rows; r++)
                    ((float*)y)[r * outFeatures + o] = Dot(w, (float*)x + r * inFeatures, inFeatures);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static float Dot(float* w, float* x, long n)
        {
            // Four independent sums, so consecutive multiply-adds do not wait on each other.
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            long k = 0;
            for (; k + 32 <= n; k += 32)
            {
                s0 = Fma.MultiplyAdd(Avx.LoadVector256(w + k), Avx.LoadVector256(x + k), s0);
                s1 = Fma.MultiplyAdd(Avx.LoadVector256(w + k + 8), Avx.LoadVector256(x + k + 8), s1);
                s2 = Fma.MultiplyAdd(Avx.LoadVector256(w + k + 16), Avx.LoadVector256(x + k + 16), s2);
                s3 = Fma.MultiplyAdd(Avx.LoadVector256(w + k + 24), Avx.LoadVector256(x + k + 24), s3);
            }
            for (; k < n; k += 8) s0 = Fma.MultiplyAdd(Avx.LoadVector256(w + k), Avx.LoadVector256(x + k), s0);
            return Vector256.Sum(Avx.Add(Avx.Add(s0, s1), Avx.Add(s2, s3)));
        }
    }
}
