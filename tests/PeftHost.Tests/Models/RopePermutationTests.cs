using PeftHost.Core.Import;
using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Models;

/// <summary>llama2.c rotates adjacent pairs; Hugging Face rotates halves. The row permutation must make them agree.</summary>
public sealed class RopePermutationTests
{
    [Fact]
    public void Permuted_weights_under_rotate_half_equal_interleaved_rope_on_the_original_weights()
    {
        const int heads = 2, headDim = 8, inDim = 16, position = 5;
        const double theta = 10000;
        using var g = new Generator(3);
        var w = randn([heads * headDim, inDim], generator: g);
        var x = randn([inDim], generator: g);

        // llama2.c: rotate pairs (2i, 2i+1) of each head by angle pos·θ^(-2i/d).
        var q = mv(w, x).view(heads, headDim / 2, 2);
        var freqs = tensor(Enumerable.Range(0, headDim / 2).Select(i => (float)(position * Math.Pow(theta, -2.0 * i / headDim))).ToArray());
        var (c, s) = (freqs.cos(), freqs.sin());
        var even = q[.., .., 0]; var odd = q[.., .., 1];
        var interleaved = stack([even * c - odd * s, even * s + odd * c], -1).view(heads, headDim);

        // Hugging Face: permuted rows, rotate_half with cos/sin repeated over the two halves.
        var qHf = mv(Llama2cCheckpoint.PermuteForRotateHalf(w, heads), x).view(1, heads, 1, headDim);
        var angles = cat([freqs, freqs]).view(1, 1, 1, headDim);
        var rotated = RotaryEmbedding.Apply(qHf, angles.cos(), angles.sin()).view(heads, headDim);

        // The same permutation maps the interleaved result onto the halves layout.
        var expected = interleaved.view(heads, headDim / 2, 2).transpose(1, 2).reshape(heads, headDim);
        Assert.True(allclose(rotated, expected, rtol: 1e-5, atol: 1e-5));
    }
}
