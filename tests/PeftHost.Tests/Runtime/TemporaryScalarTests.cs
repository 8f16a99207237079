using PeftHost.Core.Plugins;
using PeftHost.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Runtime;

/// <summary>
/// No shipped assembly hands libtorch a Scalar that nothing holds (see <see cref="TemporaryScalarScan"/> for why such a
/// Scalar is a use after free waiting for a garbage collection on another thread). The scan must see the ordinary ways
/// of making one, and a training run beside a thread that collects garbage without pause must keep working.
/// </summary>
public sealed class TemporaryScalarTests
{
    private static readonly string[] Shipped =
    [
        "PeftHost.Sdk.dll", "PeftHost.Core.dll", "PeftHost.Farm.dll", "peft.dll",
    ];

    private static IEnumerable<string> ShippedAssemblies() =>
        Shipped.Select(name => Path.Combine(AppContext.BaseDirectory, name))
            .Concat(Directory.GetDirectories(Path.Combine(TestPaths.RepoRoot, "artifacts", "plugins"))
                .Select(folder => Path.Combine(folder, Path.GetFileName(folder) + ".dll")));

    [Fact]
    public void No_shipped_assembly_or_plugin_hands_libtorch_a_scalar_that_nothing_holds()
    {
        var assemblies = ShippedAssemblies().ToList();
        Assert.All(assemblies, path => Assert.True(File.Exists(path), path));
        Assert.Contains(assemblies, path => path.EndsWith("Lora.dll", StringComparison.Ordinal));
        var calls = assemblies.SelectMany(TemporaryScalarScan.Calls).ToList();
        Assert.True(calls.Count == 0, $"{calls.Count} calls make a temporary Scalar (use TensorArithmetic or a held Scalar):\n{string.Join("\n", calls)}");
    }

    [Fact]
    public void The_scan_sees_the_temporaries_of_plain_tensor_arithmetic_and_not_a_held_scalar()
    {
        var calls = TemporaryScalarScan.Calls(typeof(TemporaryScalarTests).Assembly.Location)
            .Where(c => c.Contains(nameof(TemporaryScalarTests), StringComparison.Ordinal)).ToList();
        Assert.Contains(calls, c => c.Contains($".{nameof(SumOfTwo)} calls TorchSharp.torch/Tensor::op_Addition(TorchSharp.torch/Tensor,TorchSharp.torch/Tensor)", StringComparison.Ordinal));
        Assert.Contains(calls, c => c.Contains($".{nameof(Halved)} calls TorchSharp.torch/Tensor::op_Multiply(TorchSharp.torch/Tensor,Double)", StringComparison.Ordinal));
        Assert.Contains(calls, c => c.Contains($".{nameof(Squared)} calls TorchSharp.torch/Tensor::square()", StringComparison.Ordinal));
        Assert.Contains(calls, c => c.Contains($".{nameof(Clamped)} calls TorchSharp.Scalar::op_Implicit(Double)", StringComparison.Ordinal));
        Assert.DoesNotContain(calls, c => c.Contains($".{nameof(HeldHalf)} ", StringComparison.Ordinal));
        Assert.DoesNotContain(calls, c => c.Contains($".{nameof(Product)} ", StringComparison.Ordinal));
    }

    // What the scan must flag, and what it must not.
    private static Tensor SumOfTwo(Tensor a, Tensor b) => a + b;
    private static Tensor Halved(Tensor a) => a * 0.5;
    private static Tensor Squared(Tensor a) => a.square();
    private static Tensor Clamped(Tensor a) => a.clamp_min(1e-6);
    private static Tensor Product(Tensor a, Tensor b) => a * b;

    private static Tensor HeldHalf(Tensor a)
    {
        using var half = 0.5.ToScalar();
        return a.mul(half);
    }
}
